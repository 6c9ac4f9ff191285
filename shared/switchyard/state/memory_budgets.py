"""In-memory budget counters: one process's spend, with the conditional semantics of the DynamoDB
adapter (:mod:`switchyard.state.dynamodb_budgets`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from time import time

from switchyard.state.memory import MemoryKeyStore
from switchyard.state.ports import BudgetOverride, BudgetResult, TenantRecord, summed

_ZERO = Decimal(0)


class MemoryBudgetStore:
    def __init__(self, *, clock: Callable[[], float] = time, keys: MemoryKeyStore | None = None) -> None:
        self._keys = keys  # where tenants live (one process: the same memory)
        self._spent: dict[tuple[str, int], dict[str, Decimal]] = {}  # (scope, shard) -> counters
        self._notices: dict[tuple[str, str], float] = {}
        self._override: BudgetOverride | None = None
        self._override_changed_at: float | None = None
        self._clock = clock

    async def charge(
        self,
        scope: str,
        amount: Decimal,
        caps: Mapping[str, Decimal | None],
        *,
        expires_at: float,
        drop: Sequence[str] = (),
        shard: int = 0,
    ) -> BudgetResult:
        counters = self._spent.setdefault((scope, shard), {})
        for period in drop:
            counters.pop(period, None)
        if amount > 0 and not fits(counters, amount, caps):
            return BudgetResult(False, dict(counters))
        for period in caps:
            counters[period] = counters.get(period, _ZERO) + amount
        return BudgetResult(True, dict(counters))

    async def spent(self, scope: str, *, shards: int = 1) -> Mapping[str, Decimal]:
        return summed(await self.shard_spent(scope, shards))

    async def shard_spent(self, scope: str, shards: int) -> list[Mapping[str, Decimal]]:
        return [dict(self._spent.get((scope, i), {})) for i in range(shards)]

    async def claim_notice(self, scope: str, notice: str, *, expires_at: float) -> bool:
        now = self._clock()
        held = self._notices.get((scope, notice))
        if held is not None and held > now:
            return False
        self._notices[(scope, notice)] = expires_at
        return True

    async def override(self) -> BudgetOverride | None:
        found = self._override
        if found is None or (found.until is not None and found.until <= self._clock()):
            return None
        return found

    async def context(self, tenant: str) -> tuple[BudgetOverride | None, TenantRecord | None]:
        record = await self._keys.get_tenant(tenant) if self._keys is not None else None
        return await self.override(), record

    async def set_override(self, override: BudgetOverride | None, *, changed_at: float) -> bool:
        if self._override_changed_at is not None and self._override_changed_at >= changed_at:
            return False
        self._override, self._override_changed_at = override, changed_at
        return True


def fits(counters: Mapping[str, Decimal], amount: Decimal, caps: Mapping[str, Decimal | None]) -> bool:
    return all(cap is None or counters.get(period, _ZERO) + amount <= cap for period, cap in caps.items())
