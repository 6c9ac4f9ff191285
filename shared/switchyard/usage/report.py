"""Usage reports from the daily aggregates: a date range, grouped by model, key, provider or day.

Sums stay ``Decimal``; a range is read one day (one DynamoDB query) at a time, at most
:data:`MAX_DAYS` days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from switchyard.errors import InvalidRequestError
from switchyard.state.ports import UsageDelta, UsageLedger

MAX_DAYS = 92
GroupBy = Literal["model", "key", "provider", "day", "tenant"]


@dataclass(slots=True)
class UsageRow:
    group: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    errors: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    saved_usd: Decimal = field(default_factory=Decimal)

    def add(self, d: UsageDelta) -> None:
        self.requests += d.requests
        self.prompt_tokens += d.prompt_tokens
        self.completion_tokens += d.completion_tokens
        self.cached_tokens += d.cached_tokens
        self.errors += d.errors
        self.cache_hits += d.cache_hits
        self.fallbacks += d.fallbacks
        self.cost_usd += d.cost_usd
        self.saved_usd += d.saved_usd


def days(start: dt.date, end: dt.date) -> list[str]:
    """Every day from ``start`` to ``end`` inclusive. Raises InvalidRequestError for a reversed
    or too long range."""
    if end < start:
        raise InvalidRequestError("the range ends before it starts", param="end")
    count = (end - start).days + 1
    if count > MAX_DAYS:
        raise InvalidRequestError(f"at most {MAX_DAYS} days at a time", param="start")
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(count)]


async def read(
    ledger: UsageLedger, tenants: Iterable[str], start: dt.date, end: dt.date, *, key_id: str | None = None
) -> list[UsageDelta]:
    """The aggregates of ``tenants`` over the range (only ``key_id``'s when given)."""
    found: list[UsageDelta] = []
    for tenant in tenants:
        for day in days(start, end):
            found.extend(d for d in await ledger.totals(tenant, day) if key_id is None or d.key_id == key_id)
    return found


def grouped(deltas: Iterable[UsageDelta], by: GroupBy) -> tuple[list[UsageRow], UsageRow]:
    """Rows by ``by``, most expensive first (then most requests), and the total."""
    rows: dict[str, UsageRow] = {}
    total = UsageRow("total")
    for d in deltas:
        name = {"model": d.model, "key": d.key_id, "provider": d.provider, "day": d.day, "tenant": d.tenant}[
            by
        ]
        rows.setdefault(name, UsageRow(name)).add(d)
        total.add(d)
    ordered = sorted(rows.values(), key=lambda r: (-r.cost_usd, -r.requests, r.group))
    return ordered, total
