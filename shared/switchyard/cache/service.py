"""The response cache over the :class:`~switchyard.state.ports.ResponseCache` port.

A value is the answer's JSON body as it was served, behind one line of JSON naming who served it
(for the ``x-switchyard-*`` headers of a hit), zlib-compressed. A value too large for the store
is not written, and counted.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from time import time

from switchyard.api.requests import CanonicalRequest
from switchyard.cache.policy import SKIP, CachePlan, plan_for
from switchyard.metrics import CACHE_ENTRY_TOO_LARGE, CACHE_HIT, CACHE_MISS
from switchyard.metrics.sink import MetricSink
from switchyard.observability import logger
from switchyard.state.ports import ResponseCache, ValueTooLargeError

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
        clock: Callable[[], float] = time,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._enabled = enabled
        self._default_ttl_s = default_ttl_s
        self._clock = clock

    def plan(self, request: CanonicalRequest, namespace: str, headers: Mapping[str, str]) -> CachePlan:
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
            await self._store.put(plan.key, value, expires_at=self._clock() + plan.ttl_s)
        except ValueTooLargeError:
            self._metrics.count(CACHE_ENTRY_TOO_LARGE)
            return False
        return True


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
