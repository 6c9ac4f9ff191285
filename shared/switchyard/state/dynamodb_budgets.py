"""Budget counters on the state table (DESIGN §4-5): one item per scope holds its spend per
period, so a charge to a key's daily, weekly and monthly budgets is one conditional ``UpdateItem``.

    pk "budget#<scope>"   sk "spend"             s_<period key> (N, USD) ...  expires_at
    pk "budget#<scope>"   sk "notice#<notice>"   expires_at     a threshold event already sent
    pk "budget#global"    sk "override"          action reason since until active changed_at
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from time import time

from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, n, num, s, text
from switchyard.state.dynamodb_keys import tenant_record
from switchyard.state.ports import BudgetOverride, BudgetResult, TenantRecord

_ZERO = Decimal(0)
_OVERRIDE_KEY = {"pk": s("budget#global"), "sk": s("override")}


def _pk(scope: str) -> dict[str, str]:
    return s(f"budget#{scope}")


class DynamoBudgetStore:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def charge(
        self,
        scope: str,
        amount: Decimal,
        caps: Mapping[str, Decimal | None],
        *,
        expires_at: float,
        drop: Sequence[str] = (),
    ) -> BudgetResult:
        if not caps:
            return BudgetResult(True, {})  # nothing is counted
        if amount > 0 and any(cap is not None and amount > cap for cap in caps.values()):
            return BudgetResult(False, {})  # cannot fit even an empty period
        names = {"#exp": "expires_at"}
        values: Item = {":a": n(amount), ":exp": n(expires_at)}
        adds, conditions = [], []
        for i, (period, cap) in enumerate(caps.items()):
            names[f"#p{i}"] = f"s_{period}"
            adds.append(f"#p{i} :a")
            if cap is not None and amount > 0:
                # DynamoDB cannot add in a condition: the counter must be at most cap - amount.
                values[f":m{i}"] = n(cap - amount)
                conditions.append(f"(attribute_not_exists(#p{i}) OR #p{i} <= :m{i})")
        removes = []
        for j, period in enumerate(p for p in drop if p not in caps):
            names[f"#d{j}"] = f"s_{period}"
            removes.append(f"#d{j}")
        update = f"ADD {', '.join(adds)} SET #exp = :exp" + (
            f" REMOVE {', '.join(removes)}" if removes else ""
        )
        key = {"pk": _pk(scope), "sk": s("spend")}
        try:
            item = await self._table.update(
                key, update, condition=" AND ".join(conditions) or None, values=values, names=names
            )
        except ConditionFailed as failed:
            return BudgetResult(False, _spent(failed.item or {}))
        return BudgetResult(True, _spent(item))

    async def spent(self, scope: str) -> Mapping[str, Decimal]:
        item = await self._table.get({"pk": _pk(scope), "sk": s("spend")}, consistent=True)
        return _spent(item) if item is not None and not expired(item, self._clock()) else {}

    async def claim_notice(self, scope: str, notice: str, *, expires_at: float) -> bool:
        key = {"pk": _pk(scope), "sk": s(f"notice#{notice}")}
        try:
            await self._table.update(
                key,
                "SET expires_at = :exp",
                condition="attribute_not_exists(pk) OR expires_at <= :now",
                values={":exp": n(expires_at), ":now": n(self._clock())},
            )
        except ConditionFailed:
            return False
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
