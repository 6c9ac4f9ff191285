"""Sharded budget counters: a hot scope's spend spread over N items, each capped at 1/N.

Each request writes its scopes' counters once, and one DynamoDB item takes ~1,000 writes a second;
the global budget of a busy gateway (or a busy tenant's) spreads its writes over N shards instead
(N from the expected rate, ``BudgetsConfig.shards``). Each shard is capped at its share of the
budget, so the shards never pass the budget together; a write that finds its (random) shard full
reads every shard and tries the one with most room, so a scope is refused only when no shard has
room for the request: at most N x one request short of the cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from switchyard.state.ports import BudgetResult, BudgetStore

ZERO = Decimal(0)


def shard_caps(caps: Mapping[str, Decimal], shards: int) -> dict[str, Decimal]:
    """Each shard's cap per period key."""
    return {period: cap / shards for period, cap in caps.items()}


@dataclass(frozen=True, slots=True)
class ShardWrite:
    scope: str
    amount: Decimal
    share: Mapping[str, Decimal]  # each shard's caps
    expires_at: float
    drop: Sequence[str]


async def roomiest(store: BudgetStore, write: ShardWrite, shards: int) -> tuple[BudgetResult, int]:
    """The write found its shard full: read every shard and try the one with most room, if it has
    room for the amount. When refused, the result's counters are the shards' average (so that,
    like one shard's, they scale back up to the sum by ``shards``). Raises
    ``StateUnavailableError``."""
    counters = await store.shard_spent(write.scope, shards)

    def room(i: int) -> Decimal:
        return min(cap - counters[i].get(period, ZERO) for period, cap in write.share.items())

    best = max(range(shards), key=room)
    if room(best) >= write.amount:
        result = await store.charge(
            write.scope, write.amount, write.share, expires_at=write.expires_at, drop=write.drop, shard=best
        )
        if result.applied:
            return result, best
    total: dict[str, Decimal] = {}
    for shard_counters in counters:
        for period, value in shard_counters.items():
            total[period] = total.get(period, ZERO) + value
    return BudgetResult(False, {period: value / shards for period, value in total.items()}), best
