"""The response cache on the cache table: one item per entry, expired by TTL, and one item of
purge markers.

Entry shape: ``pk`` (the cache key: a sha256 hex digest), ``v`` (the value, binary, compressed by
the caller), ``fresh_until`` (epoch seconds: until then a hit), ``expires_at`` (TTL, epoch
seconds: how long the item is kept, past ``fresh_until`` for stale-if-error answers; an item
without ``fresh_until``, written before stale answers existed, is fresh until ``expires_at``). An
item is at most 400 KB with its attribute names, so values are capped a little below that.

Purge markers: the item ``pk "cache#purges"`` (no digest looks like it), one number attribute
``p:<scope>`` per purged scope, never expired: markers older than any entry can be are removed by
the next purge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from time import time

from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, n, num, s
from switchyard.state.ports import KeptValue, ValueTooLargeError

MAX_VALUE_BYTES = 390 * 1024
_PURGES = {"pk": s("cache#purges")}
_MARK = "p:"
_PRUNE_AT_ONCE = 50  # markers removed by one purge: keeps the expression small


class DynamoResponseCache:
    def __init__(
        self, table: Table, *, max_value_bytes: int = MAX_VALUE_BYTES, clock: Callable[[], float] = time
    ) -> None:
        self._table = table
        self._max_value_bytes = max_value_bytes
        self._clock = clock

    @property
    def max_value_bytes(self) -> int:
        return self._max_value_bytes

    async def get(self, key: str) -> bytes | None:
        kept = await self.get_kept(key)
        return kept.value if kept is not None and kept.fresh_until > self._clock() else None

    async def get_kept(self, key: str) -> KeptValue | None:
        item = await self._table.get({"pk": s(key)})
        if item is None or expired(item, self._clock()) or "v" not in item:
            return None
        value: bytes = item["v"]["B"]
        return KeptValue(value, num(item, "fresh_until", num(item, "expires_at")))

    async def put(
        self, key: str, value: bytes, *, expires_at: float, keep_until: float | None = None
    ) -> None:
        if len(value) > self._max_value_bytes:
            raise ValueTooLargeError(f"{len(value)} bytes is over the limit of {self._max_value_bytes}")
        kept = max(expires_at, keep_until or expires_at)
        await self._table.put(
            {"pk": s(key), "v": {"B": value}, "fresh_until": n(expires_at), "expires_at": n(math.ceil(kept))}
        )

    async def purges(self) -> dict[str, float]:
        return _marks(await self._table.get(_PURGES))

    async def purge(self, scope: str, at: float, *, forget_before: float) -> None:
        """One conditional UpdateItem (after a read for what to forget): the marker moves only
        forward, and a marker is forgotten only if no purge renewed it since the read."""
        stale = [
            name for name, when in (await self.purges()).items() if when < forget_before and name != scope
        ]
        for forget in (stale[:_PRUNE_AT_ONCE], []):
            names = {"#s": _MARK + scope} | {f"#o{i}": _MARK + name for i, name in enumerate(forget)}
            values: Item = {":at": n(at)}
            update, condition = "SET #s = :at", "(attribute_not_exists(#s) OR #s < :at)"
            if forget:
                update += " REMOVE " + ", ".join(f"#o{i}" for i in range(len(forget)))
                condition += "".join(f" AND #o{i} < :before" for i in range(len(forget)))
                values[":before"] = n(forget_before)
            try:
                await self._table.update(_PURGES, update, condition=condition, values=values, names=names)
                return
            except ConditionFailed as exc:
                if num(exc.item or {}, _MARK + scope) >= at:
                    return  # a purge at the same time or later is already there
                # Else a forgotten marker was renewed meanwhile: purge without forgetting.


def _marks(item: Item | None) -> dict[str, float]:
    if item is None:
        return {}
    return {name[len(_MARK) :]: float(value["N"]) for name, value in item.items() if name.startswith(_MARK)}
