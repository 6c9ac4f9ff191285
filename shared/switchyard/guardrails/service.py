"""The guardrails a call must pass, and running them: the service behind the guardrail stages.

A call's policies are, in order and each once: the config's ``guardrails.default``, its model's
(``models.<name>.guardrails``, through aliases), its tenant's and its key's (admin API), and any
an earlier stage named (a persona's, ``Call.guardrails``). A name that is no longer configured
fails the call (500): a guardrail that was asked for is never skipped quietly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from switchyard.api.requests import CanonicalRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.config.guardrails import ModerationConfig
from switchyard.config.routing import RoutingConfig
from switchyard.errors import Kind, SwitchyardError
from switchyard.guardrails.moderation import Moderation
from switchyard.guardrails.policy import Policy
from switchyard.guardrails.redact import Redactions
from switchyard.guardrails.scan import Scan
from switchyard.guardrails.tally import BLOCKED, LOGGED, Tally
from switchyard.guardrails.texts import request_texts
from switchyard.keys.tenants import TenantCache
from switchyard.metrics.guardrails import GuardrailMetrics
from switchyard.observability import logger


@dataclass(slots=True)
class Guarded:
    """A request after the input checks: as the provider will see it, with the placeholders
    that stand for what was redacted."""

    request: CanonicalRequest
    redactions: Redactions
    tally: Tally


class Guardrails:
    def __init__(
        self, config: RoutingConfig, tenants: TenantCache, moderation: Moderation, metrics: GuardrailMetrics
    ) -> None:
        guardrails = config.guardrails
        self._policies = {name: Policy.compile(name, cfg) for name, cfg in guardrails.policies.items()}
        self._default = tuple(guardrails.default)
        self._by_model = {name: tuple(route.guardrails) for name, route in config.models.items()}
        self._by_model |= {alias: self._by_model.get(target, ()) for alias, target in config.aliases.items()}
        self._tenants = tenants
        self._moderation = moderation
        self._metrics = metrics

    @property
    def active(self) -> bool:
        """False when no policy is configured: then no call has any to pass."""
        return bool(self._policies)

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names that are not configured policies (the admin API refuses them)."""
        return [n for n in names if n not in self._policies]

    async def names(
        self, model: str, tenant: str, key: Sequence[str], extra: Sequence[str]
    ) -> tuple[str, ...]:
        """The call's policy names, in order, each once. Raises GatewayError 503 when the tenant
        cannot be read (see TenantCache)."""
        record = await self._tenants.get(tenant)
        tenant_names = record.guardrails if record is not None else ()
        ordered = (*self._default, *self._by_model.get(model, ()), *tenant_names, *key, *extra)
        return tuple(dict.fromkeys(ordered))

    async def check_input(self, request: CanonicalRequest, names: Sequence[str], request_id: str) -> Guarded:
        """Every policy's input checks, then their moderation of the redacted text. Raises
        ContentBlockedError, GatewayError 503 (moderation down, failing closed)."""
        policies = self._resolve(names)
        guarded = Guarded(request, Redactions(), Tally())
        try:
            for policy in policies:
                guarded.request = policy.check_input(guarded.request, guarded.redactions, guarded.tally)
            await self._moderate(policies, "input", request_texts(guarded.request), guarded.tally, request_id)
        finally:
            self.report(names, guarded.tally, "input", request_id, checked=True)
        return guarded

    def output(self, names: Sequence[str]) -> OutputChecks | None:
        """The output checks of ``names``; None when they have none."""
        policies = self._resolve(names)
        rules = [rule for p in policies for rule in p.output_rules()]
        moderated = [(p.name, c) for p in policies if (c := _moderation(p, "output")) is not None]
        if not rules and not moderated:
            return None
        return OutputChecks(self, policies, moderated)

    def report(
        self, names: Sequence[str], tally: Tally, stage: str, request_id: str, *, checked: bool = False
    ) -> None:
        """Metrics per policy, and a log line for what was blocked or logged (rules and counts,
        never the text)."""
        if checked:
            for name in names:
                self._metrics.count(name, "checked")
        for (policy, outcome, _), count in tally.counts.items():
            self._metrics.count(policy, outcome, count)
        findings = tally.findings(BLOCKED, LOGGED)
        if findings:
            logger.info(
                "guardrail findings", extra={"request_id": request_id, "stage": stage, "findings": findings}
            )

    def _resolve(self, names: Sequence[str]) -> list[Policy]:
        missing = self.unknown(names)
        if missing:
            logger.error("guardrail policy not configured", extra={"policies": missing})
            raise SwitchyardError(
                f"Guardrail policy {missing[0]!r} is not configured.",
                kind=Kind.INTERNAL,
                code="guardrail_not_configured",
            )
        return [self._policies[n] for n in names]

    async def _moderate(
        self, policies: Sequence[Policy], stage: str, texts: list[str], tally: Tally, request_id: str
    ) -> None:
        for policy in policies:
            config = _moderation(policy, stage)
            if config is not None:
                await self._moderation.check(
                    policy.name, config, texts, tally, stage=stage, request_id=request_id
                )

    async def moderate(
        self,
        moderated: Sequence[tuple[str, ModerationConfig]],
        texts: list[str],
        tally: Tally,
        request_id: str,
    ) -> None:
        for name, config in moderated:
            await self._moderation.check(name, config, texts, tally, stage="output", request_id=request_id)


class OutputChecks:
    """A call's output checks: the rules a stream passes through as it goes (and a buffered
    answer at once), and the moderation that needs the whole answer."""

    def __init__(
        self,
        service: Guardrails,
        policies: Sequence[Policy],
        moderated: Sequence[tuple[str, ModerationConfig]],
    ) -> None:
        self._service = service
        self._rules = [rule for p in policies for rule in p.output_rules()]
        self.moderated = list(moderated)

    def scan(self, tally: Tally) -> Scan | None:
        return Scan(self._rules, tally) if self._rules else None

    async def moderate(self, texts: list[str], tally: Tally, request_id: str) -> None:
        if self.moderated:
            await self._service.moderate(self.moderated, texts, tally, request_id)

    def report(self, names: Sequence[str], tally: Tally, request_id: str) -> None:
        self._service.report(names, tally, "output", request_id)

    async def held_for_moderation(
        self, chunks: AsyncIterator[ChatCompletionChunk], tally: Tally, request_id: str
    ) -> AsyncIterator[ChatCompletionChunk]:
        """The stream, held back whole until moderation has judged the complete answer."""
        held = [chunk async for chunk in chunks]
        answers: dict[int, list[str]] = {}
        for chunk in held:
            for choice in chunk.choices:
                answers.setdefault(choice.index, []).append(choice.delta.content or "")
        await self.moderate(["".join(parts) for parts in answers.values()], tally, request_id)
        for chunk in held:
            yield chunk


def _moderation(policy: Policy, stage: str) -> ModerationConfig | None:
    config = policy.config.moderation
    return config if config is not None and stage in config.apply_to else None
