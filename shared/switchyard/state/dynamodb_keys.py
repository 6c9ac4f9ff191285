"""Virtual keys and tenants on the state table.

Item shapes::

    pk "key#<key id>"                sk "record"          key_hash tenant name status created_at
                                                          models (list) budgets (map) budget_action
                                                          limits (map) metadata (map) replaced_by
                                                          guardrails (list) require_signature (bool)
                                                          signing (list of maps: salt created_at
                                                          expires_at) expires_at (TTL)
    pk "tenant#<tenant>"             sk "key#<key id>"    expires_at (TTL): lists a tenant's keys
    pk "tenants"                     sk "<tenant>"        name created_at budgets (map) budget_action
                                                          metadata (map) guardrails (list)
                                                          require_signature (bool)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from time import time
from typing import Literal

from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, n, num, s, text
from switchyard.state.ports import (
    BudgetAction,
    BudgetPeriod,
    KeyRecord,
    SigningSalt,
    TenantRecord,
)

_RECORD = "record"
_TENANTS = "tenants"
PERIODS: tuple[BudgetPeriod, ...] = ("daily", "weekly", "monthly")


class DynamoKeyStore:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def get(self, key_id: str) -> KeyRecord | None:
        item = await self._table.get(_key_item_key(key_id))
        if item is None or expired(item, self._clock()):
            return None
        return _key_record(key_id, item)

    async def put(self, record: KeyRecord) -> None:
        item: Item = {
            **_key_item_key(record.key_id),
            "key_hash": s(record.key_hash),
            "tenant": s(record.tenant),
            "name": s(record.name),
            "status": s(record.status),
            "created_at": n(record.created_at),
            "models": {"L": [s(m) for m in record.models]},
            **_budget_attrs(record.budgets, record.budget_action),
            "limits": {"M": {k: n(v) for k, v in record.limits.items()}},
            "metadata": {"M": {k: s(v) for k, v in record.metadata.items()}},
            **_guard_attrs(record.guardrails, record.require_signature),
            "signing": {"L": [_salt_attr(salt) for salt in record.signing]},
        }
        pointer: Item = {"pk": s(f"tenant#{record.tenant}"), "sk": s(f"key#{record.key_id}")}
        if record.expires_at is not None:
            item["expires_at"] = pointer["expires_at"] = n(record.expires_at)
        if record.replaced_by is not None:
            item["replaced_by"] = s(record.replaced_by)
        await self._table.put(item)
        await self._table.put(pointer)  # after the record: a listed key always exists

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        pointers = await self._table.query(
            "pk = :pk AND begins_with(sk, :key)", {":pk": s(f"tenant#{tenant}"), ":key": s("key#")}
        )
        ids = [text(p, "sk").removeprefix("key#") for p in pointers]
        items = await self._table.batch_get([_key_item_key(i) for i in ids]) if ids else []
        now = self._clock()
        records = [_key_record(text(i, "pk").removeprefix("key#"), i) for i in items if not expired(i, now)]
        return sorted((r for r in records if r.tenant == tenant), key=lambda r: r.key_id)

    async def put_tenant(self, record: TenantRecord) -> None:
        item: Item = {
            "pk": s(_TENANTS),
            "sk": s(record.tenant),
            "name": s(record.name),
            "created_at": n(record.created_at),
            **_budget_attrs(record.budgets, record.budget_action),
            "metadata": {"M": {k: s(v) for k, v in record.metadata.items()}},
            **_guard_attrs(record.guardrails, record.require_signature),
        }
        await self._table.put(item)

    async def get_tenant(self, tenant: str) -> TenantRecord | None:
        item = await self._table.get({"pk": s(_TENANTS), "sk": s(tenant)})
        return tenant_record(item) if item is not None else None

    async def list_tenants(self) -> list[TenantRecord]:
        items = await self._table.query("pk = :pk", {":pk": s(_TENANTS)})
        return sorted((tenant_record(i) for i in items), key=lambda t: t.tenant)

    async def revoke(self, key_id: str) -> bool:
        try:
            await self._table.update(
                _key_item_key(key_id),
                "SET #status = :revoked",
                condition="attribute_exists(pk)",
                values={":revoked": s("revoked")},
                names={"#status": "status"},
            )
        except ConditionFailed:
            return False
        return True


def _budget_attrs(budgets: Mapping[BudgetPeriod, Decimal], action: BudgetAction) -> Item:
    return {"budgets": {"M": {p: n(v) for p, v in budgets.items()}}, "budget_action": s(action)}


def _guard_attrs(guardrails: tuple[str, ...], require_signature: bool) -> Item:
    return {"guardrails": {"L": [s(g) for g in guardrails]}, "require_signature": {"BOOL": require_signature}}


def _salt_attr(salt: SigningSalt) -> Item:
    fields: Item = {"salt": s(salt.salt), "created_at": n(salt.created_at)}
    if salt.expires_at is not None:
        fields["expires_at"] = n(salt.expires_at)
    return {"M": fields}


def _salts(item: Item) -> tuple[SigningSalt, ...]:
    return tuple(
        SigningSalt(
            salt=text(m["M"], "salt"),
            created_at=num(m["M"], "created_at"),
            expires_at=num(m["M"], "expires_at") if "expires_at" in m["M"] else None,
        )
        for m in item.get("signing", {}).get("L", [])
    )


def _guardrails(item: Item) -> tuple[str, ...]:
    return tuple(v["S"] for v in item.get("guardrails", {}).get("L", []))


def _requires_signature(item: Item) -> bool:
    return bool(item.get("require_signature", {}).get("BOOL", False))


def _budgets(item: Item) -> dict[BudgetPeriod, Decimal]:
    stored = item.get("budgets", {}).get("M", {})
    return {p: Decimal(stored[p]["N"]) for p in PERIODS if p in stored}


def _action(item: Item) -> BudgetAction:
    return "downgrade" if text(item, "budget_action") == "downgrade" else "block"


def _key_record(key_id: str, item: Item) -> KeyRecord:
    status: Literal["active", "revoked"] = "revoked" if text(item, "status") == "revoked" else "active"
    return KeyRecord(
        key_id=key_id,
        key_hash=text(item, "key_hash"),
        tenant=text(item, "tenant"),
        name=text(item, "name"),
        status=status,
        created_at=num(item, "created_at"),
        expires_at=num(item, "expires_at") if "expires_at" in item else None,
        models=tuple(v["S"] for v in item.get("models", {}).get("L", [])),
        budgets=_budgets(item),
        budget_action=_action(item),
        limits={k: int(v["N"]) for k, v in item.get("limits", {}).get("M", {}).items()},
        metadata={k: v["S"] for k, v in item.get("metadata", {}).get("M", {}).items()},
        replaced_by=text(item, "replaced_by") or None,
        guardrails=_guardrails(item),
        signing=_salts(item),
        require_signature=_requires_signature(item),
    )


def tenant_record(item: Item) -> TenantRecord:
    """A tenant from its item (``pk "tenants"``, ``sk`` the tenant)."""
    return TenantRecord(
        tenant=text(item, "sk"),
        name=text(item, "name"),
        created_at=num(item, "created_at"),
        budgets=_budgets(item),
        budget_action=_action(item),
        metadata={k: v["S"] for k, v in item.get("metadata", {}).get("M", {}).items()},
        guardrails=_guardrails(item),
        require_signature=_requires_signature(item),
    )


def _key_item_key(key_id: str) -> Item:
    return {"pk": s(f"key#{key_id}"), "sk": s(_RECORD)}
