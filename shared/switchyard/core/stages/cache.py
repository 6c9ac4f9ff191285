"""The exact response cache as a stage: a hit answers the call (no provider is called, one request
and no tokens against the key's limits); a fresh answer is stored on its way out.

An answer is stored only for the request the key was made from: when a later stage routed the
call elsewhere (a budget's downgrade), the answer is not the asked model's and is not kept.
"""

from __future__ import annotations

from switchyard.accounting import Accounting
from switchyard.api.requests import CanonicalRequest
from switchyard.cache.policy import CachePlan
from switchyard.cache.service import CachedAnswer, CacheService
from switchyard.core.call import Answer, Call, ServedBy
from switchyard.core.stage import Entry

HEADER = "x-switchyard-cache"


class CacheStage:
    name = "cache"

    def __init__(self, cache: CacheService) -> None:
        self._cache = cache

    async def enter(self, call: Call) -> Entry | None:
        """Raises InvalidRequestError for a malformed cache header."""
        plan = self._cache.plan(call.request, call.key_id, call.request_headers)
        cached = await self._cache.lookup(plan)
        if cached is not None:
            call.headers[HEADER] = "hit"
            served = ServedBy(cached.provider, cached.model, cached.deployment_id, 0)
            call.record = Accounting.record_hit(
                call.asked_model,
                cached.provider,
                cached.deployment_id,
                cached.model,
                cached.cost_usd,
                request_id=call.request_id,
            )
            call.answer = Answer(cached.body, served, call.record)
            return None
        call.headers[HEADER] = "miss" if plan.lookup else "skip"
        return _Store(self._cache, plan, call.request) if plan.store else None


class _Store(Entry):
    __slots__ = ("_cache", "_plan", "_request")

    def __init__(self, cache: CacheService, plan: CachePlan, request: CanonicalRequest) -> None:
        self._cache = cache
        self._plan = plan
        self._request = request

    async def answered(self, call: Call, answer: Answer) -> Answer:
        if call.request is self._request and answer.record is not None:
            served = answer.served_by
            cached = CachedAnswer(
                answer.body, served.provider, served.model, served.deployment_id, answer.record.cost_usd
            )
            await self._cache.save(self._plan, cached)
        return answer
