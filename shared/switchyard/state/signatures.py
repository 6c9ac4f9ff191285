"""The seen-signature record behind signed requests' replay protection: a port, its memory
adapter, and the wrapper that falls back to memory while DynamoDB cannot be reached.

A signature is valid for a five-minute window, so a record of it need live only that long: the
DynamoDB adapter (:mod:`switchyard.state.dynamodb_signatures`) writes one item per signature with
a conditional put and lets TTL delete it. While the table is unreachable each container still
refuses replays it has seen itself (degraded, counted, logged).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from time import time
from typing import Protocol

from switchyard.state.degrading import Degradation


class SeenSignatures(Protocol):
    async def first_seen(self, scope: str, signature: str, *, expires_at: float) -> bool:
        """Record ``signature`` under ``scope`` (a key id) until ``expires_at`` (epoch seconds):
        True the first time, False when it is already recorded and not expired; of concurrent
        callers with one signature exactly one gets True. Raises ``StateUnavailableError``."""
        ...


class MemorySeenSignatures:
    """One process's record, bounded: the oldest entries go first past ``max_entries`` (a
    signature older than the window is refused as expired before it is looked up)."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def first_seen(self, scope: str, signature: str, *, expires_at: float) -> bool:
        key = (scope, signature)
        until = self._seen.get(key)
        if until is not None and until > self._clock():
            return False
        self._seen[key] = expires_at
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return True


class DegradingSeenSignatures:
    """The shared record, or this container's own while the shared one fails."""

    def __init__(self, primary: SeenSignatures, fallback: SeenSignatures, degradation: Degradation) -> None:
        self._primary, self._fallback, self._degradation = primary, fallback, degradation

    async def first_seen(self, scope: str, signature: str, *, expires_at: float) -> bool:
        return await self._degradation.run(
            lambda: self._primary.first_seen(scope, signature, expires_at=expires_at),
            lambda: self._fallback.first_seen(scope, signature, expires_at=expires_at),
        )
