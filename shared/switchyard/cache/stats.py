"""Cache statistics from the usage aggregates, so they hold across every container: per group
(model, key, tenant or day) the answers served from the cache (hits), the answers a provider
served after a lookup found nothing (misses), how many of those were stored, the hit rate, and
what the hits saved. Requests that skip the cache (not deterministic, ``no-cache``) count in
neither."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from switchyard.state.ports import UsageDelta

GroupBy = Literal["model", "key", "tenant", "day"]


@dataclass(slots=True)
class CacheRow:
    group: str
    hits: int = 0
    misses: int = 0
    stores: int = 0
    saved_usd: Decimal = field(default_factory=Decimal)

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None

    def add(self, delta: UsageDelta) -> None:
        self.hits += delta.cache_hits
        self.misses += delta.cache_misses
        self.stores += delta.cache_stores
        self.saved_usd += delta.saved_usd


def cache_rows(
    deltas: Iterable[UsageDelta], by: GroupBy, *, model: str | None = None
) -> tuple[list[CacheRow], CacheRow]:
    """Rows by ``by`` (only ``model``'s traffic when given), most lookups first, and the total."""
    rows: dict[str, CacheRow] = {}
    total = CacheRow("total")
    for d in deltas:
        if (model is not None and d.model != model) or not (d.cache_hits or d.cache_misses):
            continue
        name = {"model": d.model, "key": d.key_id, "tenant": d.tenant, "day": d.day}[by]
        rows.setdefault(name, CacheRow(name)).add(d)
        total.add(d)
    return sorted(rows.values(), key=lambda r: (-r.lookups, r.group)), total
