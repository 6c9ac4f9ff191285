"""Virtual keys and usage aggregates on the state table.

Item shapes::

    pk "key#<key id>"                sk "record"          key_hash tenant name status created_at
                                                          models (list) budget_usd expires_at (TTL)
    pk "usage#<tenant>#<YYYY-MM-DD>" sk "<key id>#<model>" key_id model requests prompt_tokens
                                                          completion_tokens cached_tokens cost_usd
                                                          expires_at (TTL: the day + 400 days)

Usage counters are one ``UpdateItem ADD`` each (no lost updates); costs are DynamoDB numbers
written from ``Decimal`` strings, so sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from time import time
from typing import Literal

from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, integer, n, num, s, text
from switchyard.state.ports import KeyRecord, UsageDelta

_RECORD = "record"
_USAGE_TTL_S = 400 * 86400
_COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens")


class DynamoKeyStore:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def get(self, key_id: str) -> KeyRecord | None:
        item = await self._table.get(_key_item_key(key_id))
        if item is None or expired(item, self._clock()):
            return None
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
            budget_usd=Decimal(item["budget_usd"]["N"]) if "budget_usd" in item else None,
        )

    async def put(self, record: KeyRecord) -> None:
        item: Item = {
            **_key_item_key(record.key_id),
            "key_hash": s(record.key_hash),
            "tenant": s(record.tenant),
            "name": s(record.name),
            "status": s(record.status),
            "created_at": n(record.created_at),
            "models": {"L": [s(m) for m in record.models]},
        }
        if record.expires_at is not None:
            item["expires_at"] = n(record.expires_at)
        if record.budget_usd is not None:
            item["budget_usd"] = n(record.budget_usd)
        await self._table.put(item)

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


def _key_item_key(key_id: str) -> Item:
    return {"pk": s(f"key#{key_id}"), "sk": s(_RECORD)}


class DynamoUsageLedger:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def add(self, delta: UsageDelta) -> None:
        names = {f"#{c}": c for c in (*_COUNTERS, "cost_usd", "key_id", "model", "expires_at")}
        values: Item = {f":{c}": n(getattr(delta, c)) for c in _COUNTERS}
        values |= {
            ":cost_usd": n(delta.cost_usd),
            ":key_id": s(delta.key_id),
            ":model": s(delta.model),
            ":expires_at": n(_day_start(delta.day) + _USAGE_TTL_S),
        }
        adds = ", ".join(f"#{c} :{c}" for c in (*_COUNTERS, "cost_usd"))
        update = f"SET #key_id = :key_id, #model = :model, #expires_at = :expires_at ADD {adds}"
        key = {"pk": s(_usage_pk(delta.tenant, delta.day)), "sk": s(f"{delta.key_id}#{delta.model}")}
        await self._table.update(key, update, condition=None, values=values, names=names)

    async def totals(self, tenant: str, day: str) -> list[UsageDelta]:
        items = await self._table.query("pk = :pk", {":pk": s(_usage_pk(tenant, day))})
        totals = [
            UsageDelta(
                tenant=tenant,
                key_id=text(item, "key_id"),
                model=text(item, "model"),
                day=day,
                requests=integer(item, "requests"),
                prompt_tokens=integer(item, "prompt_tokens"),
                completion_tokens=integer(item, "completion_tokens"),
                cached_tokens=integer(item, "cached_tokens"),
                cost_usd=Decimal(item["cost_usd"]["N"]) if "cost_usd" in item else Decimal(0),
            )
            for item in items
        ]
        return sorted(totals, key=lambda t: (t.key_id, t.model))


def _usage_pk(tenant: str, day: str) -> str:
    return f"usage#{tenant}#{day}"


def _day_start(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
