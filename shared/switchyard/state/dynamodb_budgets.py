"""Budget counters on the state table: one item per scope and shard holds its spend
per period, so a charge to a key's daily, weekly and monthly budgets is one conditional
``UpdateItem``. A hot scope (the global budget, a busy tenant) spreads its writes over N shards,
each capped at its share of the budget; reads sum them.

    pk "budget#<scope>"[#<i>]   sk "spend"   s_<period key> (N, USD) ...  expires_at
                                             ik0..ik3: recent writes' idempotency tokens
    pk "budget#<scope>"         sk "notice#<notice>"   expires_at tk   a threshold event already sent
    pk "budget#global"          sk "override"          action reason since until active changed_at

Shard i > 0 of a scope has a partition key of its own (``#<i>``), since DynamoDB's per-partition
throughput is what a hot scope runs into; shard 0 is the item an unsharded scope has always had.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from time import time

from switchyard.state.dynamodb import ConditionFailed, Item, Once, Table, expired, n, num, s, text
from switchyard.state.dynamodb_keys import tenant_record
from switchyard.state.ports import BudgetOverride, BudgetResult, StateThrottledError, TenantRecord, summed

_OVERRIDE_KEY = {"pk": s("budget#global"), "sk": s("override")}


def _pk(scope: str) -> dict[str, str]:
    return s(f"budget#{scope}")


def _spend_key(scope: str, shard: int) -> Item:
    return {"pk": _pk(scope) if shard == 0 else s(f"budget#{scope}#{shard}"), "sk": s("spend")}


class DynamoBudgetStore:
    def __init__(
        self,
        table: Table,
        *,
        clock: Callable[[], float] = time,
        on_throttled: Callable[[], None] = lambda: None,
    ) -> None:
        self._table = table
        self._clock = clock
        self._on_throttled = on_throttled  # a budget write refused for throughput (a metric)

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
        if not caps:
            return BudgetResult(True, {})  # nothing is counted
        if amount > 0 and any(cap is not None and amount > cap for cap in caps.values()):
            return BudgetResult(False, {})  # cannot fit even an empty period
        names = {"#exp": "expires_at"}
        values: Item = {":a": n(amount), ":exp": n(expires_at)}
        once = Once.new(self._clock())
        token_add, token_remove, token_condition = once.clauses(values)
        adds, conditions = [token_add], [token_condition]
        for i, (period, cap) in enumerate(caps.items()):
            names[f"#p{i}"] = f"s_{period}"
            adds.append(f"#p{i} :a")
            if cap is not None and amount > 0:
                # DynamoDB cannot add in a condition: the counter must be at most cap - amount.
                values[f":m{i}"] = n(cap - amount)
                conditions.append(f"(attribute_not_exists(#p{i}) OR #p{i} <= :m{i})")
        removes = [token_remove]
        for j, period in enumerate(p for p in drop if p not in caps):
            names[f"#d{j}"] = f"s_{period}"
            removes.append(f"#d{j}")
        update = f"ADD {', '.join(adds)} SET #exp = :exp REMOVE {', '.join(removes)}"
        try:
            condition = " AND ".join(conditions)
            key = _spend_key(scope, shard)
            item = await self._table.update(key, update, condition=condition, values=values, names=names)
        except ConditionFailed as failed:
            # Our own earlier try, applied (its answer was lost): the write is done, once.
            return BudgetResult(once.applied(failed.item), _spent(failed.item or {}))
        except StateThrottledError:
            self._on_throttled()
            raise
        return BudgetResult(True, _spent(item))

    async def spent(self, scope: str, *, shards: int = 1) -> Mapping[str, Decimal]:
        return summed(await self.shard_spent(scope, shards))

    async def shard_spent(self, scope: str, shards: int) -> list[Mapping[str, Decimal]]:
        now = self._clock()
        if shards == 1:
            item = await self._table.get(_spend_key(scope, 0), consistent=True)
            return [_spent(item) if item is not None and not expired(item, now) else {}]
        found = {
            text(item, "pk"): item
            for item in await self._table.batch_get([_spend_key(scope, i) for i in range(shards)])
        }
        result: list[Mapping[str, Decimal]] = []
        for i in range(shards):
            item = found.get(_spend_key(scope, i)["pk"]["S"])
            result.append(_spent(item) if item is not None and not expired(item, now) else {})
        return result

    async def claim_notice(self, scope: str, notice: str, *, expires_at: float) -> bool:
        key = {"pk": _pk(scope), "sk": s(f"notice#{notice}")}
        token = secrets.token_urlsafe(6)
        try:
            await self._table.update(
                key,
                "SET expires_at = :exp, tk = :tk",
                condition="attribute_not_exists(pk) OR expires_at <= :now",
                values={":exp": n(expires_at), ":now": n(self._clock()), ":tk": s(token)},
            )
        except ConditionFailed as failed:
            # Claimed by our own earlier try (its answer lost), or by someone else.
            return text(failed.item or {}, "tk") == token
        return True

    async def override(self) -> BudgetOverride | None:
        return self._override_of(await self._table.get(_OVERRIDE_KEY, consistent=True))

    def _override_of(self, item: Item | None) -> BudgetOverride | None:
        if item is None or text(item, "active") != "yes" or expired(item, self._clock()):
            return None
        action = text(item, "action")
        if action not in ("block", "downgrade"):
            return None
        until = num(item, "expires_at") if "expires_at" in item else None
        return BudgetOverride(action, text(item, "reason"), num(item, "since"), until)  # type: ignore[arg-type]

    async def context(self, tenant: str) -> tuple[BudgetOverride | None, TenantRecord | None]:
        tenant_key = {"pk": s("tenants"), "sk": s(tenant)}
        items = await self._table.batch_get([_OVERRIDE_KEY, tenant_key])
        override = record = None
        for item in items:
            if text(item, "pk") == "tenants":
                record = tenant_record(item)
            else:
                override = self._override_of(item)
        return override, record

    async def set_override(self, override: BudgetOverride | None, *, changed_at: float) -> bool:
        item: Item = {**_OVERRIDE_KEY, "active": s("no"), "changed_at": n(changed_at)}
        if override is not None:
            item |= {
                "active": s("yes"),
                "action": s(override.action),
                "reason": s(override.reason),
                "since": n(override.since),
            }
            if override.until is not None:
                item["expires_at"] = n(override.until)
        try:
            await self._table.put(
                item,
                condition="attribute_not_exists(changed_at) OR changed_at < :changed",
                values={":changed": n(changed_at)},
            )
        except ConditionFailed:
            return False  # a newer (or the same) alarm state change is already recorded
        return True


def _spent(item: Item) -> dict[str, Decimal]:
    return {
        name[2:]: Decimal(value["N"])
        for name, value in item.items()
        if name.startswith("s_") and "N" in value
    }
