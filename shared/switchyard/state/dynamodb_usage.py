"""Usage aggregates on the state table: one item per tenant, day, key, model and provider.

Item shape::

    pk "usage#<tenant>#<YYYY-MM-DD>" sk "<key id>#<model>#<provider>"
                                     key_id model provider requests prompt_tokens completion_tokens
                                     cached_tokens errors cache_hits fallbacks cost_usd saved_usd
                                     cache_misses cache_stores
                                     expires_at (TTL: the day + 400 days)

Usage counters are one ``UpdateItem ADD`` each (no lost updates); costs are DynamoDB numbers
written from ``Decimal`` strings, so sums are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from switchyard.state.dynamodb import Item, Table, integer, n, s, text
from switchyard.state.ports import UsageDelta

_USAGE_TTL_S = 400 * 86400
_COUNTERS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "errors",
    "cache_hits",
    "fallbacks",
    "cache_misses",
    "cache_stores",
)
_MONEY = ("cost_usd", "saved_usd")


class DynamoUsageLedger:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def add(self, delta: UsageDelta) -> None:
        names = {f"#{c}": c for c in (*_COUNTERS, *_MONEY, "key_id", "model", "provider", "expires_at")}
        values: Item = {f":{c}": n(getattr(delta, c)) for c in (*_COUNTERS, *_MONEY)}
        values |= {
            ":key_id": s(delta.key_id),
            ":model": s(delta.model),
            ":provider": s(delta.provider),
            ":expires_at": n(_day_start(delta.day) + _USAGE_TTL_S),
        }
        adds = ", ".join(f"#{c} :{c}" for c in (*_COUNTERS, *_MONEY))
        sets = "#key_id = :key_id, #model = :model, #provider = :provider, #expires_at = :expires_at"
        update = f"SET {sets} ADD {adds}"
        sk = f"{delta.key_id}#{delta.model}#{delta.provider}"
        key = {"pk": s(_usage_pk(delta.tenant, delta.day)), "sk": s(sk)}
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
                cost_usd=_money(item, "cost_usd"),
                provider=text(item, "provider"),
                errors=integer(item, "errors"),
                cache_hits=integer(item, "cache_hits"),
                fallbacks=integer(item, "fallbacks"),
                saved_usd=_money(item, "saved_usd"),
                cache_misses=integer(item, "cache_misses"),
                cache_stores=integer(item, "cache_stores"),
            )
            for item in items
        ]
        return sorted(totals, key=lambda t: (t.key_id, t.model, t.provider))


def _money(item: Item, name: str) -> Decimal:
    return Decimal(item[name]["N"]) if name in item else Decimal(0)


def _usage_pk(tenant: str, day: str) -> str:
    return f"usage#{tenant}#{day}"


def _day_start(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
