"""Purging cached answers by tenant, key or model: one write, however many entries it covers.

Cache keys are sha256 digests of the request (:mod:`switchyard.cache.keys`), so the entries of a
tenant, key or model cannot be found without reading every entry (a Scan of the whole table, paid
per 4 KB read) or an index kept beside them (a GSI: a second write for every entry stored, forever,
to make a rare operation cheap), and deleting them would cost one write each. Instead a purge
writes a *marker*: a scope (``all``, ``tenant#acme``, ``key#k_…``, ``model#gpt-4o``) and when it
was purged, in one item. A lookup knows its request's scopes; an entry stored for a request that
began before a marker of one of them is stale: a miss, overwritten by the next answer, deleted by
TTL (free). A purge is therefore one UpdateItem (plus one GetItem to forget markers older than
any entry can be), and a lookup pays nothing: each container keeps a warm copy of the markers,
read at most once per ``refresh_s``, which bounds how long a purge takes to reach every container
(the one that purged sees it at once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from time import time

from switchyard.state.ports import ResponseCache, StateUnavailableError

ALL = "all"
SCOPE_KINDS = ("tenant", "key", "model")
MAX_ENTRY_AGE_S = 30 * 86400  # the longest TTL an entry can have (cache.policy.MAX_TTL_S)
_FORGET_AFTER_S = MAX_ENTRY_AGE_S + 86400


def scopes_of(tenant: str, key_id: str, model: str) -> tuple[str, ...]:
    """The purge scopes a request's entry falls under."""
    return (ALL, f"tenant#{tenant}", f"key#{key_id}", f"model#{model}")


class PurgeMarks:
    """The purge markers as this container knows them, and the purges it makes."""

    def __init__(
        self, store: ResponseCache, *, refresh_s: float = 30.0, clock: Callable[[], float] = time
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._clock = clock
        self._marks: dict[str, float] = {}
        self._fresh_until = -math.inf
        self._refreshing = False

    async def stale(self, scopes: Sequence[str], stored_at: float) -> bool:
        """Whether an entry stored for a request that began at ``stored_at`` was purged since."""
        marks = await self._current()
        return any(marks.get(scope, -math.inf) >= stored_at for scope in scopes)

    async def _current(self) -> dict[str, float]:
        now = self._clock()
        if now >= self._fresh_until and not self._refreshing:
            # One read at a time; meanwhile (and when the store cannot be read) the copy serves.
            self._refreshing = True
            try:
                self._marks = await self._store.purges()
            except StateUnavailableError:
                pass
            finally:
                self._fresh_until = now + self._refresh_s
                self._refreshing = False
        return self._marks

    async def purge(self, scopes: Sequence[str]) -> float:
        """Mark ``scopes`` purged now; returns when. Raises StateUnavailableError."""
        now = self._clock()
        for scope in scopes:
            await self._store.purge(scope, now, forget_before=now - _FORGET_AFTER_S)
            self._marks = {**self._marks, scope: max(now, self._marks.get(scope, now))}
        return now

    async def marks(self) -> dict[str, float]:
        """Every marker as the store has it now. Raises StateUnavailableError."""
        self._marks = await self._store.purges()
        self._fresh_until = self._clock() + self._refresh_s
        return dict(self._marks)
