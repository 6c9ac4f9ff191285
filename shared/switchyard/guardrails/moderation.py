"""Moderation through a provider's ``/v1/moderations`` endpoint, routed like any request.

The policy names a model of the routing config; :meth:`Router.run` tries its deployments in
order with the usual retries, breakers, limits and failover, within the policy's own timeout,
calling each provider's ``moderate`` instead of ``chat``. When no deployment answers, the policy
fails closed (503 ``moderation_unavailable``) or open (the text passes; logged and counted).
"""

from __future__ import annotations

from collections.abc import Sequence

from switchyard.api.chat import ChatRequest, Message
from switchyard.api.moderation import ModerationResult
from switchyard.config.guardrails import ModerationConfig
from switchyard.errors import ContentBlockedError, GatewayError, Kind, ProviderError, SwitchyardError
from switchyard.guardrails.tally import BLOCKED, MODERATION_SKIPPED, Tally
from switchyard.observability import logger
from switchyard.providers.base import Moderating, Provider, Target
from switchyard.routing.attempt import Router


class Moderation:
    def __init__(self, router: Router) -> None:
        self._router = router

    async def check(
        self,
        policy: str,
        config: ModerationConfig,
        texts: Sequence[str],
        tally: Tally,
        *,
        stage: str,
        request_id: str,
    ) -> None:
        """Raises ContentBlockedError when a result blocks, GatewayError 503 when no deployment
        answered and the policy fails closed."""
        inputs = [t for t in texts if t.strip()]
        if not inputs:
            return
        try:
            results = await self._moderate(config, inputs)
        except SwitchyardError as exc:
            self._unavailable(policy, config, exc, tally, request_id)
            return
        category = _blocking(config, results)
        if category is not None:
            rule = f"moderation.{category}"
            tally.add(policy, BLOCKED, rule)
            raise ContentBlockedError(policy, rule, stage)

    async def _moderate(self, config: ModerationConfig, inputs: list[str]) -> list[ModerationResult]:
        # The request the loop routes (and estimates deployment limits from): the text to judge.
        request = ChatRequest(model=config.model, messages=[Message(role="user", content="\n".join(inputs))])

        async def call(provider: Provider, _: ChatRequest, target: Target) -> list[ModerationResult]:
            if not isinstance(provider, Moderating):
                raise ProviderError(Kind.INVALID_REQUEST, f"provider {target.provider!r} cannot moderate")
            return await provider.moderate(inputs, target)

        outcome = await self._router.run(request, config.timeout_s, call)
        outcome.grant.settle()  # the estimate stands: a moderation answer reports no usage
        return outcome.result

    def _unavailable(
        self, policy: str, config: ModerationConfig, exc: SwitchyardError, tally: Tally, request_id: str
    ) -> None:
        extra = {
            "request_id": request_id,
            "policy": policy,
            "kind": exc.kind.value,
            "on_error": config.on_error,
        }
        logger.warning("moderation unavailable", extra=extra)
        if config.on_error == "closed":
            tally.add(policy, BLOCKED, "moderation.unavailable")
            raise GatewayError(
                "Content moderation is unavailable; retry shortly.",
                status=503,
                retry_after=exc.retry_after or 1.0,
                code="moderation_unavailable",
            ) from exc
        tally.add(policy, MODERATION_SKIPPED, "moderation.unavailable")


def _blocking(config: ModerationConfig, results: list[ModerationResult]) -> str | None:
    """The first category that blocks, if any."""
    wanted = set(config.categories)
    for result in results:
        flagged = [c for c in result.flagged_categories() if not wanted or c in wanted]
        if flagged:
            return flagged[0]
        if config.threshold is not None:
            for name, score in sorted(result.category_scores.items()):
                if score is not None and score >= config.threshold and (not wanted or name in wanted):
                    return name
    if not wanted and any(r.flagged and not r.flagged_categories() for r in results):
        return "flagged"
    return None
