"""Seen request signatures on the state table: one item per signature, written once.

Item shape::

    pk "sig#<key id>#<v1 hex>"       sk "seen"            expires_at (TTL)

The write is a conditional put that succeeds only when no live item exists (TTL deletion lags,
so an item past ``expires_at`` counts as absent): concurrent requests with one signature race
on one item and exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time

from switchyard.state.dynamodb import ConditionFailed, Table, n, s

_SK = "seen"


class DynamoSeenSignatures:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def first_seen(self, scope: str, signature: str, *, expires_at: float) -> bool:
        item = {"pk": s(f"sig#{scope}#{signature}"), "sk": s(_SK), "expires_at": n(int(expires_at) + 1)}
        try:
            await self._table.put(
                item,
                condition="attribute_not_exists(pk) OR expires_at <= :now",
                values={":now": n(int(self._clock()))},
            )
        except ConditionFailed:
            return False
        return True
