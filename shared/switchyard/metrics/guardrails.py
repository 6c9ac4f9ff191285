"""Per-policy guardrail metrics, summed in process and published as CloudWatch EMF.

For each policy (dimension ``Policy``): ``GuardrailChecks`` (calls it applied to),
``GuardrailBlocks``, ``GuardrailRedactions``, ``GuardrailFindingsLogged`` and
``GuardrailModerationSkipped`` (moderation unreachable, let through by a fail-open policy).
Counts go out with the request metrics' interval, and at :meth:`GuardrailMetrics.flush`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from time import monotonic

from switchyard.metrics.requests import COUNT, Group, Publish, publish_emf

GUARDRAIL_CHECKS = "GuardrailChecks"
GUARDRAIL_BLOCKS = "GuardrailBlocks"
GUARDRAIL_REDACTIONS = "GuardrailRedactions"
GUARDRAIL_FINDINGS_LOGGED = "GuardrailFindingsLogged"
GUARDRAIL_MODERATION_SKIPPED = "GuardrailModerationSkipped"
POLICY = "Policy"

# Tally outcomes (switchyard.guardrails.tally) -> metric names.
OUTCOME_METRICS = {
    "checked": GUARDRAIL_CHECKS,
    "blocked": GUARDRAIL_BLOCKS,
    "redacted": GUARDRAIL_REDACTIONS,
    "logged": GUARDRAIL_FINDINGS_LOGGED,
    "moderation_skipped": GUARDRAIL_MODERATION_SKIPPED,
}


class GuardrailMetrics:
    def __init__(
        self,
        *,
        namespace: str = "Switchyard",
        service: str = "switchyard",
        interval_s: float = 60.0,
        publish: Publish | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._publish = publish or (lambda groups: publish_emf(namespace, service, groups))
        self._interval_s = interval_s
        self._clock = clock
        self._last_flush = clock()
        self._counts: Counter[tuple[str, str]] = Counter()  # (policy, metric)
        self.totals: Counter[tuple[str, str]] = Counter()  # since start, for health views and tests

    def count(self, policy: str, outcome: str, value: int = 1) -> None:
        key = (policy, OUTCOME_METRICS[outcome])
        self._counts[key] += value
        self.totals[key] += value
        if self._clock() - self._last_flush >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = self._clock()
        if not self._counts:
            return  # an empty EMF flush only warns
        by_policy: dict[str, list[tuple[str, str, float | list[float]]]] = {}
        for (policy, metric), value in sorted(self._counts.items()):
            by_policy.setdefault(policy, []).append((metric, COUNT, value))
        self._counts.clear()
        self._publish([Group(({POLICY: policy},), tuple(metrics)) for policy, metrics in by_policy.items()])
