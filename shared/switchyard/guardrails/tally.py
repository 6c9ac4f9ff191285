"""What the guardrails did to one call: counts by policy, outcome and rule.

It becomes the ``x-switchyard-guardrails`` answer header (``redacted=2, logged=1``), the
per-policy metrics and the log line of a finding. It holds rule names and counts only: never the
text a rule matched.
"""

from __future__ import annotations

from collections import Counter

HEADER = "x-switchyard-guardrails"
POLICIES_HEADER = "x-switchyard-guardrails-policies"

# Outcomes: a value replaced (redacted), a finding let through and logged, a verdict that
# refused the call (blocked), a moderation check that could not be made and was let through.
REDACTED, LOGGED, BLOCKED, MODERATION_SKIPPED = "redacted", "logged", "blocked", "moderation_skipped"


class Tally:
    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (policy, outcome, rule)

    def add(self, policy: str, outcome: str, rule: str, count: int = 1) -> None:
        self.counts[(policy, outcome, rule)] += count

    def by_outcome(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (_, outcome, _), count in self.counts.items():
            totals[outcome] += count
        return totals

    def findings(self, *outcomes: str) -> dict[str, int]:
        """``{"<policy>/<rule>/<outcome>": count}`` for a log line."""
        return {
            f"{policy}/{rule}/{outcome}": count
            for (policy, outcome, rule), count in sorted(self.counts.items())
            if outcome in outcomes
        }


def header_value(existing: str | None, tally: Tally) -> str:
    """The header with ``tally``'s counts added to what ``existing`` says (``passed``: none)."""
    totals: Counter[str] = Counter()
    for item in (existing or "").split(","):
        name, sep, value = item.strip().partition("=")
        if sep and value.isdigit():
            totals[name] += int(value)
    totals.update(tally.by_outcome())
    parts = [f"{name}={count}" for name, count in sorted(totals.items()) if count]
    return ", ".join(parts) or "passed"
