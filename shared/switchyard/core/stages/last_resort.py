"""The last resort as a stage: when the attempt loop found no candidate that could answer (every
deployment failed, was rate-limited or had its breaker open), the call is answered with the
cached answer to the same request if it went stale at most ``stale_if_error_s`` ago
(``x-switchyard-fallback: stale-cache``), else with the rule's template (``template``).

Such an answer is never charged (cost 0, no tokens against limits or budgets), never stored in
the cache, never remembered in a conversation, and counted (``LastResortStaleCache``,
``LastResortTemplate``). A caller that declined it (``x-switchyard-fallback: none``, or
``no-cache``/``no-store``) gets the error. Errors that are the caller's (a 400, a refused key)
are never rescued.
"""

from __future__ import annotations

from decimal import Decimal

from switchyard.accounting import UsageRecord
from switchyard.api.chat import ChatRequest, Usage
from switchyard.cache.service import CacheService
from switchyard.config.routing import LastResortConfig
from switchyard.core.call import Answer, Call, ServedBy
from switchyard.core.stage import Entry
from switchyard.errors import GatewayError, SwitchyardError
from switchyard.last_resort import HEADER, Rule, declined, rule_for, template_answer
from switchyard.metrics import LAST_RESORT_STALE_CACHE, LAST_RESORT_TEMPLATE
from switchyard.metrics.sink import MetricSink

STALE, TEMPLATE = "stale-cache", "template"


class LastResortStage:
    name = "last_resort"

    def __init__(self, config: LastResortConfig, cache: CacheService, metrics: MetricSink) -> None:
        self._config = config
        self._cache = cache
        self._metrics = metrics

    async def enter(self, call: Call) -> Entry | None:
        """Raises InvalidRequestError for a malformed ``x-switchyard-fallback``."""
        if not isinstance(call.request, ChatRequest):
            return None  # a chat's answer: embeddings have no template, and a stale vector no use
        if declined(call.request, call.request_headers) or call.answer is not None:
            return None
        rule = rule_for(self._config, call.request.model, call.persona)
        return _Rescue(rule, call.request, self._cache, self._metrics) if rule is not None else None


class _Rescue(Entry):
    __slots__ = ("_cache", "_metrics", "_request", "_rule")

    def __init__(self, rule: Rule, request: ChatRequest, cache: CacheService, metrics: MetricSink) -> None:
        self._rule = rule
        self._request = request  # as the cache saw it: the key of its stored answer
        self._cache = cache
        self._metrics = metrics

    async def rescue(self, call: Call, error: SwitchyardError) -> Answer | None:
        if not isinstance(error, GatewayError):
            return None
        if self._rule.stale_if_error_s > 0:
            stale = await self._cache.stale(
                self._request, key_id=call.key_id, tenant=call.tenant, max_stale_s=self._rule.stale_if_error_s
            )
            if stale is not None:
                kept = stale.answer
                call.headers.update(
                    {"x-switchyard-cache": "stale", "x-switchyard-stale-s": str(int(stale.stale_s))}
                )
                return self._given(call, STALE, Answer(kept.body, ServedBy(STALE, kept.model, STALE, 0)))
        if self._rule.template:
            completion = template_answer(self._rule.template, call.asked_model, call.request_id)
            served = ServedBy(TEMPLATE, TEMPLATE, TEMPLATE, 0)
            return self._given(call, TEMPLATE, Answer(completion.to_json(), served, None, completion))
        return None

    def _given(self, call: Call, kind: str, answer: Answer) -> Answer:
        call.headers[HEADER] = kind
        self._metrics.count(LAST_RESORT_STALE_CACHE if kind == STALE else LAST_RESORT_TEMPLATE)
        # Free and filed as what it is; the answer itself carries no record, so the cache never
        # stores it as a fresh answer.
        call.record = UsageRecord(
            request_id=call.request_id,
            public_model=call.asked_model,
            provider=kind,
            deployment_id=kind,
            upstream_model=answer.served_by.model,
            usage=Usage(),
            cost_usd=Decimal(0),
            attempts=0,
            latency_ms=0.0,
            streamed=call.streamed,
        )
        return answer
