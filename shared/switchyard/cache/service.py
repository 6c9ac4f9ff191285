"""The response cache over the :class:`~switchyard.state.ports.ResponseCache` port.

A value is the answer's JSON body as it was served, behind one line of JSON naming who served it
(for the ``x-switchyard-*`` headers of a hit), zlib-compressed. A value too large for the store
is not written, and counted.

With ``stale_keep_s`` the store keeps each entry that much longer than its TTL: no longer a hit,
but an answer of last resort when no provider can answer (:meth:`CacheService.stale`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from time import time

from switchyard.api.chat import ChatRequest
from switchyard.cache.keys import cache_key
from switchyard.cache.policy import SKIP, CachePlan, plan_for
from switchyard.metrics import CACHE_ENTRY_TOO_LARGE, CACHE_HIT, CACHE_MISS
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


class CacheService:
    def __init__(
        self,
        store: ResponseCache,
        metrics: MetricSink,
        *,
        enabled: bool = True,
        default_ttl_s: int = 3600,
        stale_keep_s: float = 0.0,
        clock: Callable[[], float] = time,
    ) -> None:
        self._store = store
        self._stale_keep_s = stale_keep_s
        self._metrics = metrics
        self._enabled = enabled
        self._default_ttl_s = default_ttl_s
        self._clock = clock

    def plan(self, request: ChatRequest, namespace: str, headers: Mapping[str, str]) -> CachePlan:
        if not self._enabled:
            return SKIP
        return plan_for(request, namespace, headers, default_ttl_s=self._default_ttl_s)

    async def lookup(self, plan: CachePlan) -> CachedAnswer | None:
        if plan.key is None or not plan.lookup:
            return None
        value = await self._store.get(plan.key)
        answer = _decode(value) if value is not None else None
        self._metrics.count(CACHE_HIT if answer is not None else CACHE_MISS)
        return answer

    async def save(self, plan: CachePlan, answer: CachedAnswer) -> bool:
        """Store the answer if the plan says so; False when it was not stored (too large)."""
        if plan.key is None or not plan.store:
            return False
        value = _encode(answer)
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

    async def stale(self, request: ChatRequest, namespace: str, max_stale_s: float) -> Stale | None:
        """The answer cached for ``request`` (fresh, or stale for at most ``max_stale_s``), whatever
        the request's own cache policy: a last resort, not a hit. None when there is none, or it
        cannot be read (a store failure is logged: a last resort must not fail the request)."""
        if not self._enabled:
            return None
        try:
            kept = await self._store.get_kept(cache_key(request, namespace))
        except StateUnavailableError as exc:
            logger.warning("stale cache entry unreadable", extra={"error": str(exc)})
            return None
        if kept is None:
            return None
        age = max(0.0, self._clock() - kept.fresh_until)
        answer = _decode(kept.value) if age <= max_stale_s else None
        return Stale(answer, age) if answer is not None else None


@dataclass(frozen=True, slots=True)
class Stale:
    answer: CachedAnswer
    stale_s: float  # how long it has been past its TTL (0: still fresh)


def _encode(answer: CachedAnswer) -> bytes:
    head = json.dumps(
        {"p": answer.provider, "m": answer.model, "d": answer.deployment_id, "c": str(answer.cost_usd)},
        separators=(",", ":"),
    )
    return zlib.compress(head.encode() + b"\n" + answer.body, _LEVEL)


def _decode(value: bytes) -> CachedAnswer | None:
    try:
        head, _, body = zlib.decompress(value).partition(b"\n")
        meta = json.loads(head)
        cost = Decimal(str(meta.get("c", "0")))  # entries written before costs were kept: 0
        return CachedAnswer(body, str(meta["p"]), str(meta["m"]), str(meta["d"]), cost)
    except (zlib.error, ValueError, KeyError, TypeError, InvalidOperation):
        logger.warning("unreadable cache entry ignored")
        return None
