"""The response cache on the cache table: one item per entry, expired by TTL.

Item shape: ``pk`` (the cache key: a sha256 hex digest), ``v`` (the value, binary, compressed by
the caller), ``expires_at`` (TTL, epoch seconds). An item is at most 400 KB with its attribute
names, so values are capped a little below that.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time

from switchyard.state.dynamodb import Table, expired, n, s
from switchyard.state.ports import ValueTooLargeError

MAX_VALUE_BYTES = 390 * 1024


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
        item = await self._table.get({"pk": s(key)})
        if item is None or expired(item, self._clock()) or "v" not in item:
            return None
        value: bytes = item["v"]["B"]
        return value

    async def put(self, key: str, value: bytes, *, expires_at: float) -> None:
        if len(value) > self._max_value_bytes:
            raise ValueTooLargeError(f"{len(value)} bytes is over the limit of {self._max_value_bytes}")
        await self._table.put({"pk": s(key), "v": {"B": value}, "expires_at": n(int(expires_at))})
