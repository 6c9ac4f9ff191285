"""The limiter: admits requests against a scope's limits from local leases, refilled through the
:class:`~switchyard.state.ports.LimitStore` port (one conditional write per lease).

One per gateway (a warm container). Coroutines of one process share its leases; a per-scope lock
makes them refill one at a time, so a burst costs one store call, not one per request. With
``lease_horizon_s`` set, leases follow this container's own demand (:mod:`switchyard.limits.lease`)
and what a lease holds beyond it is handed back once the lease is that old.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from time import time

from switchyard.limits.lease import (
    Denial,
    Lease,
    amounts,
    charges,
    current_starts,
    denial,
    excess,
    rate_headers,
    roll,
    shortfall,
    spend,
)
from switchyard.limits.windows import LimitSpec
from switchyard.state.ports import LimitStore

_REFILL_TRIES = 3
_BLOCK_MEMORY_S = 5.0  # a scope refused on fresh state is refused locally this long (requests only)
_SLOT_RETRY_S = 1.0
_BUSY_RETRY_S = 1.0


class Grant:
    """One admitted request against one scope. ``settle`` once it is over (later calls do nothing):
    with the real token count, the lease gets back what the estimate overcounted (or owes what it
    undercounted); the request's concurrency slot is released."""

    __slots__ = ("_done", "_lease", "_spec", "_starts", "_tokens")

    def __init__(self, lease: Lease | None, spec: LimitSpec, tokens: int) -> None:
        self._lease = lease
        self._spec = spec
        self._starts = dict(lease.starts) if lease is not None else {}
        self._tokens = tokens
        self._done = lease is None

    def settle(self, actual_tokens: int | None = None) -> None:
        lease = self._lease
        if self._done or lease is None:
            return
        self._done = True
        if self._spec.max_concurrent is not None:
            lease.inflight -= 1
        # Only within the windows it was charged to: after a rollover the difference is dropped.
        if actual_tokens is not None and self._spec.counts_tokens and lease.starts == self._starts:
            lease.tokens += self._tokens - actual_tokens


NO_GRANT = Grant(None, LimitSpec(), 0)


def _busy(spec: LimitSpec) -> Denial:
    """Lost every race for the scope's item while the windows had room: rare, over in a moment."""
    first = spec.windows[0]
    return Denial(_BUSY_RETRY_S, "requests", first.period, first.requests or first.tokens or 0)


class Limiter:
    def __init__(
        self,
        store: LimitStore,
        *,
        lease_fraction: float = 0.1,
        lease_horizon_s: float = 0.0,
        slot_ttl_s: float = 300.0,
        clock: Callable[[], float] = time,
        holder: str | None = None,
    ) -> None:
        self._store = store
        self._fraction = lease_fraction
        self._horizon_s = lease_horizon_s  # 0: fixed leases of lease_fraction
        self._slot_ttl_s = slot_ttl_s
        self._clock = clock
        self._holder = holder or uuid.uuid4().hex[:16]  # this container, in concurrency holders
        self._leases: dict[str, Lease] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def admit(self, scope: str, spec: LimitSpec, tokens: int) -> Grant | Denial:
        """A grant for one request of ``tokens`` (estimated), or why not. Raises what the store
        raises (a degrading store raises only when limits fail closed)."""
        lease = self._leases.get(scope)
        if lease is None:
            lease = self._leases[scope] = Lease()
        # Demand counts every request, admitted or not (measured: sizing by the demand before
        # this request grew leases too slowly within a burst and admitted less of the limit).
        lease.demand.add(self._clock(), tokens)
        return await self._admit(scope, lease, spec, tokens)

    async def _admit(self, scope: str, lease: Lease, spec: LimitSpec, tokens: int) -> Grant | Denial:
        refused = self._still_blocked(lease)
        if refused is not None:
            return refused
        if spec.max_concurrent is not None:
            refused = await self._take_slot(scope, lease, spec.max_concurrent)
            if refused is not None:
                return refused
        refused = await self._take_capacity(scope, lease, spec, tokens) if spec.windows else None
        if refused is not None:
            if spec.max_concurrent is not None:
                lease.inflight -= 1
            return refused
        return Grant(lease, spec, tokens)

    def headers(self, scope: str, spec: LimitSpec) -> dict[str, str]:
        lease = self._leases.get(scope)
        return rate_headers(spec, lease, self._clock()) if lease is not None and spec.windows else {}

    async def _take_capacity(self, scope: str, lease: Lease, spec: LimitSpec, tokens: int) -> Denial | None:
        if self._horizon_s > 0 and self._clock() - lease.charged_at >= self._horizon_s:
            async with self._lock(scope):
                await self._hand_back(scope, lease, spec)
        for _ in range(_REFILL_TRIES):
            if self._spend_local(lease, spec, tokens):
                return None
            async with self._lock(scope):
                if self._spend_local(lease, spec, tokens):
                    return None
                refused = self._still_blocked(lease)  # refused while this one waited its turn
                if refused is not None:
                    return refused
                refused = await self._refill(scope, lease, spec, tokens)
                if refused is not None:
                    return refused
                # No await since the refill: nothing else has spent it yet.
                if self._spend_local(lease, spec, tokens):
                    return None
        return _busy(spec)

    def _spend_local(self, lease: Lease, spec: LimitSpec, tokens: int) -> bool:
        roll(lease, current_starts(spec, self._clock(), lease.seen))
        if shortfall(lease, spec, tokens) != (0, 0):
            return False
        spend(lease, spec, tokens)
        return True

    async def _refill(self, scope: str, lease: Lease, spec: LimitSpec, tokens: int) -> Denial | None:
        """Charge a lease to the store: a full one, else exactly the shortfall; None when charged."""
        starts = lease.starts
        short = shortfall(lease, spec, tokens)
        amount = amounts(lease, spec, short, self._fraction, starts, self._horizon(lease, spec, starts))
        result = await self._store.charge(scope, charges(lease, spec, starts, amount))
        lease.seen = result.state
        if not result.applied:
            # What the lease carried back may be what did not fit: forfeit it, ask for the minimum.
            lease.carry.clear()
            refused = denial(spec, lease.seen, starts, short, self._clock())
            if refused is None and amount != short:
                amount = short
                result = await self._store.charge(scope, charges(lease, spec, starts, amount))
                lease.seen = result.state
                refused = None if result.applied else denial(spec, lease.seen, starts, short, self._clock())
            if not result.applied:
                return self._blocked(lease, refused or _busy(spec))
        if lease.starts == starts:  # still the same windows (no rollover while waiting)
            lease.requests += amount[0]
            lease.tokens += amount[1]
            lease.carry.clear()
        lease.charged_at = self._clock()
        return None

    async def _hand_back(self, scope: str, lease: Lease, spec: LimitSpec) -> None:
        """Give the pool what an old lease holds beyond this container's demand (one write, which
        always applies unless the windows rolled over, when there is nothing left to give)."""
        roll(lease, current_starts(spec, self._clock(), lease.seen))
        back = excess(lease, spec, self._fraction, self._horizon_s)
        lease.charged_at = self._clock()
        if back == (0, 0):
            return
        starts = lease.starts
        result = await self._store.charge(scope, charges(lease, spec, starts, (-back[0], -back[1])))
        lease.seen = result.state
        if result.applied and lease.starts == starts:
            lease.requests -= back[0]
            lease.tokens -= back[1]
            lease.carry.clear()

    def _horizon(self, lease: Lease, spec: LimitSpec, starts: dict[int, int]) -> float:
        """Demand to lease for: ``lease_horizon_s``; twice that when it stays small (at most 1 % of
        the shortest window's limits) and the scope was far from its limit when last seen (under
        half used, in this window or the one before), so that a lone busy instance on a large
        limit pays fewer writes while a limit many instances share gets the shorter leases; and
        no further than the shortest window's end (what a lease holds then is void there)."""
        if self._horizon_s <= 0:
            return 0.0
        shortest = spec.windows[0]
        seen = lease.seen.windows.get(shortest.period)
        double = 2 * self._horizon_s
        want_r, want_t = lease.demand.wanted(double)
        small = all(
            limit is None or want * 100 <= limit
            for want, limit in ((want_r, shortest.requests), (want_t, shortest.tokens))
        )
        quiet = seen is None or all(
            limit is None or 2 * used < limit
            for used, limit in ((seen.requests, shortest.requests), (seen.tokens, shortest.tokens))
        )
        horizon = double if small and quiet else self._horizon_s
        end = starts[shortest.period] + shortest.period
        return max(1.0, min(horizon, end - self._clock()))

    def _still_blocked(self, lease: Lease) -> Denial | None:
        now = self._clock()
        if lease.blocked is None or now >= lease.blocked_until:
            return None
        return replace(lease.blocked, retry_after_s=lease.blocked_reset - now)

    def _blocked(self, lease: Lease, refused: Denial) -> Denial:
        now = self._clock()
        if refused.dimension == "requests":  # no request fits until then, whatever its size
            lease.blocked = refused
            lease.blocked_until = now + min(refused.retry_after_s, _BLOCK_MEMORY_S)
            lease.blocked_reset = now + refused.retry_after_s
        return refused

    async def _take_slot(self, scope: str, lease: Lease, max_slots: int) -> Denial | None:
        """A concurrency slot: from this container's held slots, else by taking one more (slots
        are kept until ``slot_ttl_s`` after last taken, renewed at half-life)."""
        for _ in range(_REFILL_TRIES):
            if self._has_slot(lease):
                lease.inflight += 1
                return None
            async with self._lock(scope):
                if self._has_slot(lease):
                    lease.inflight += 1
                    return None
                now = self._clock()
                want = lease.inflight + 1
                result = await self._store.hold(
                    scope, self._holder, want, max_slots=max_slots, now=now, expires_at=now + self._slot_ttl_s
                )
                lease.seen = result.state
                if not result.applied:
                    return Denial(_SLOT_RETRY_S, "concurrent", None, max_slots)
                lease.slots, lease.slots_until = want, now + self._slot_ttl_s
        return Denial(_SLOT_RETRY_S, "concurrent", None, max_slots)

    def _has_slot(self, lease: Lease) -> bool:
        fresh = self._clock() < lease.slots_until - self._slot_ttl_s / 2
        return fresh and lease.inflight + 1 <= lease.slots

    def _lock(self, scope: str) -> asyncio.Lock:
        lock = self._locks.get(scope)
        if lock is None:
            lock = self._locks[scope] = asyncio.Lock()
        return lock
