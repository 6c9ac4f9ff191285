"""Records read through a store and kept warm in the container: virtual keys, tenants, personas.

A record is trusted for ``ttl_s``, a missing one (None) for ``negative_ttl_s``, so a warm
container answers most lookups from memory and a change reaches it within the TTL (at once in
the container that made it, through :meth:`WarmCache.forget`). When the store cannot be read, a
copy is used past its TTL: lookups degrade, they do not break. A record never seen then raises
``StateUnavailableError``: what the gateway cannot read is never taken to be absent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from time import monotonic

from switchyard.observability import logger
from switchyard.state.ports import StateUnavailableError

# Bounded memory: a full cache starts over.
_MAX_ENTRIES = 10_000


class WarmCache[K: Hashable, V]:
    def __init__(
        self,
        read: Callable[[K], Awaitable[V | None]],
        *,
        what: str,
        ttl_s: float,
        negative_ttl_s: float,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._read = read
        self._what = what  # names the records in the log line of a stale use
        self._ttl_s = ttl_s
        self._negative_ttl_s = negative_ttl_s
        self._clock = clock
        self._entries: dict[K, tuple[float, V | None]] = {}  # key -> (good until, record)

    async def get(self, key: K) -> V | None:
        """The record (None: there is none). Raises StateUnavailableError when the store cannot
        be read and this container holds no copy."""
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = await self._read(key)
        except StateUnavailableError:
            if cached is None:
                raise
            logger.warning(f"{self._what} store unavailable: using a stale cached {self._what} record")
            return cached[1]
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        ttl_s = self._ttl_s if record is not None else self._negative_ttl_s
        self._entries[key] = (now + ttl_s, record)
        return record

    def forget(self, key: K) -> None:
        """This container changed the record: read it again on next use."""
        self._entries.pop(key, None)
