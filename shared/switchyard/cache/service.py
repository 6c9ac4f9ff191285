"""The response cache over the :class:`~switchyard.state.ports.ResponseCache` port.

A value is the answer's JSON body as it was served, behind one line of JSON naming who served it
(for the ``x-switchyard-*`` headers of a hit), what it cost and when its request began (for
purges: :mod:`switchyard.cache.purge`), zlib-compressed. A value too large for the store is not
written, and counted; an entry a purge made stale is a miss, and counted.

With ``stale_keep_s`` the store keeps each entry that much longer than its TTL: no longer a hit,
but an answer of last resort when no provider can answer (:meth:`CacheService.stale`). A purge
reaches those too: a purged answer is never served, fresh or stale.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from time import time

from switchyard.api.requests import CanonicalRequest
from switchyard.cache.keys import cache_key
from switchyard.cache.policy import SKIP, CachePlan, plan_for
from switchyard.cache.purge import PurgeMarks, scopes_of
from switchyard.metrics import CACHE_ENTRY_TOO_LARGE, CACHE_HIT, CACHE_MISS, CACHE_PURGED
from switchyard.metrics.sink import MetricSink
from switchyard.observability import logger
from switchyard.state.ports import ResponseCache, StateUnavailableError, ValueTooLargeError

_LEVEL = 6  # zlib's default: JSON answers shrink 3-5x in tens of microseconds


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    provider: str
    model: str
    deployment_id: str
    # What the answer cost when it was served: what each hit on it saves.
    cost_usd: Decimal = Decimal(0)
    stored_at: float = 0.0  # when its request began (entries from before purges existed: 0)


class CacheService:
    def __init__(
        self,
        store: ResponseCache,
        metrics: MetricSink,
        *,
        enabled: bool = True,
        default_ttl_s: int = 3600,
        purge_refresh_s: float = 30.0,
        stale_keep_s: float = 0.0,
        clock: Callable[[], float] = time,
    ) -> None:
        self._store = store
        self._stale_keep_s = stale_keep_s
        self._metrics = metrics
        self.enabled = enabled
        self.default_ttl_s = default_ttl_s
        self._clock = clock
        self.purges = PurgeMarks(store, refresh_s=purge_refresh_s, clock=clock)

    def plan(
        self, request: CanonicalRequest, *, key_id: str, tenant: str, headers: Mapping[str, str]
    ) -> CachePlan:
        if not self.enabled:
            return SKIP
        return plan_for(
            request, key_id, headers, default_ttl_s=self.default_ttl_s, tenant=tenant, now=self._clock()
        )

    async def lookup(self, plan: CachePlan) -> CachedAnswer | None:
        if plan.key is None or not plan.lookup:
            return None
        value = await self._store.get(plan.key)
        answer = _decode(value) if value is not None else None
        if answer is not None and await self.purges.stale(plan.scopes, answer.stored_at):
            self._metrics.count(CACHE_PURGED)
            answer = None
        self._metrics.count(CACHE_HIT if answer is not None else CACHE_MISS)
        return answer

    async def save(self, plan: CachePlan, answer: CachedAnswer) -> bool:
        """Store the answer if the plan says so; False when it was not stored (too large)."""
        if plan.key is None or not plan.store:
            return False
        value = _encode(answer, stored_at=plan.at)
        try:
            if len(value) > self._store.max_value_bytes:
                raise ValueTooLargeError(f"{len(value)} bytes")
            expires_at = self._clock() + plan.ttl_s
            keep_until = expires_at + self._stale_keep_s if self._stale_keep_s > 0 else None
            await self._store.put(plan.key, value, expires_at=expires_at, keep_until=keep_until)
        except ValueTooLargeError:
            self._metrics.count(CACHE_ENTRY_TOO_LARGE)
            return False
        return True

    async def purge(self, scopes: Sequence[str]) -> float:
        """Mark every entry of ``scopes`` stale (``cache.purge``); returns when. Raises
        StateUnavailableError."""
        return await self.purges.purge(scopes)

    async def stale(
        self, request: CanonicalRequest, *, key_id: str, tenant: str, max_stale_s: float
    ) -> Stale | None:
        """The answer cached for ``request`` (fresh, or stale for at most ``max_stale_s``), whatever
        the request's own cache policy: a last resort, not a hit. None when there is none, a purge
        covers it, or it cannot be read (a store failure is logged: a last resort must not fail the
        request)."""
        if not self.enabled:
            return None
        try:
            kept = await self._store.get_kept(cache_key(request, key_id))
            if kept is None:
                return None
            age = max(0.0, self._clock() - kept.fresh_until)
            answer = _decode(kept.value) if age <= max_stale_s else None
            if answer is None:
                return None
            if await self.purges.stale(scopes_of(tenant, key_id, request.model), answer.stored_at):
                return None
        except StateUnavailableError as exc:
            logger.warning("stale cache entry unreadable", extra={"error": str(exc)})
            return None
        return Stale(answer, age)


@dataclass(frozen=True, slots=True)
class Stale:
    answer: CachedAnswer
    stale_s: float  # how long it has been past its TTL (0: still fresh)


def _encode(answer: CachedAnswer, *, stored_at: float) -> bytes:
    head = json.dumps(
        {
            "p": answer.provider,
            "m": answer.model,
            "d": answer.deployment_id,
            "c": str(answer.cost_usd),
            "s": stored_at,
        },
        separators=(",", ":"),
    )
    return zlib.compress(head.encode() + b"\n" + answer.body, _LEVEL)


def _decode(value: bytes) -> CachedAnswer | None:
    try:
        head, _, body = zlib.decompress(value).partition(b"\n")
        meta = json.loads(head)
        cost = Decimal(str(meta.get("c", "0")))  # entries written before costs were kept: 0
        stored_at = float(meta.get("s", 0.0))
        return CachedAnswer(body, str(meta["p"]), str(meta["m"]), str(meta["d"]), cost, stored_at)
    except (zlib.error, ValueError, KeyError, TypeError, InvalidOperation):
        logger.warning("unreadable cache entry ignored")
        return None
