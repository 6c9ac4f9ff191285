"""Leases: a warm container's share of a scope's limits, charged up front and spent locally.

A container that needs capacity charges a block to the shared windows with one conditional write,
then admits requests from it without any call. Because the block is charged before it is spent,
and spent only inside the windows it was charged to, the admitted requests of a window never
exceed its limit: leases cost accuracy only the other way, capacity held unspent by containers
that stop getting requests (docs/state.md).

A block is sized by the container's own recent demand on the scope (what it admitted in the last
``horizon_s`` at its recent rate, :class:`Demand`), so a container that sees one request in a
while holds one unit, and a busy one grows its leases with its rate; never more than
``lease_fraction`` of the tightest limit, nor more than half of what the windows have left. What
a container holds beyond its demand when a lease has lasted ``horizon_s`` goes back to the pool
(the limiter hands it back). When the shortest window rolls over, what a lease did not spend is
handed back to the longer windows still running with the next charge (and what it overspent,
tokens under-estimated, is owed to them the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from switchyard.limits.windows import PERIOD_NAMES, LimitSpec, WindowLimit, duration, window_start
from switchyard.state.ports import ScopeState, WindowCharge

_EMPTY = ScopeState()


@dataclass(frozen=True, slots=True)
class Denial:
    retry_after_s: float
    dimension: str  # "requests", "tokens" or "concurrent"
    period: int | None
    limit: int

    def describe(self) -> str:
        if self.period is None:
            return f"Concurrency limit reached: at most {self.limit} requests in flight"
        per = PERIOD_NAMES[self.period]
        return f"Rate limit reached for {self.dimension} per {per} (limit {self.limit})"


# Demand is a rate decayed over this time constant: long enough that a short burst on a fresh
# container reads as a few requests, not as a rate to lease for (benchmarks/fanout.py: with 100
# instances and bursts, 10 s left up to 6 % of a limit stranded, 30 s under 1 % at the median).
DEMAND_TAU_S = 30.0


@dataclass(slots=True)
class Demand:
    """One container's recent demand on one scope, in requests and estimated tokens per second
    (exponentially decayed counts: one request reads as 1 / ``DEMAND_TAU_S``, a steady rate as
    itself)."""

    requests: float = 0.0
    tokens: float = 0.0
    at: float | None = None

    def add(self, now: float, tokens: int) -> None:
        if self.at is not None:
            keep = math.exp(-max(0.0, now - self.at) / DEMAND_TAU_S)
            self.requests *= keep
            self.tokens *= keep
        self.at = now
        self.requests += 1 / DEMAND_TAU_S
        self.tokens += tokens / DEMAND_TAU_S

    def wanted(self, horizon_s: float) -> tuple[int, int]:
        """Requests and tokens this container expects to admit in the next ``horizon_s``."""
        return math.ceil(self.requests * horizon_s), math.ceil(self.tokens * horizon_s)


@dataclass(slots=True)
class Lease:
    """What one container holds of one scope."""

    starts: dict[int, int] = field(default_factory=dict)  # period -> start of the charged window
    requests: int = 0
    tokens: int = 0  # negative: spent beyond the lease (estimates were low), owed to the windows
    # period -> (window start, requests, tokens) unspent when a shorter window rolled over
    carry: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    seen: ScopeState = _EMPTY  # the shared state as of the last answer from the store
    blocked: Denial | None = None  # refused with fresh state: refuse locally until blocked_until
    blocked_until: float = 0.0
    blocked_reset: float = 0.0  # when the blocking window resets
    inflight: int = 0
    slots: int = 0
    slots_until: float = 0.0
    demand: Demand = field(default_factory=Demand)
    charged_at: float = 0.0  # when capacity was last charged (or handed back)


def current_starts(spec: LimitSpec, now: float, seen: ScopeState) -> dict[int, int]:
    """Window starts for ``now``; a newer window already in the store (a clock ahead of ours) wins."""
    starts = {}
    for w in spec.windows:
        start = window_start(now, w.period)
        stored = seen.windows.get(w.period)
        starts[w.period] = max(start, stored.start) if stored is not None else start
    return starts


def roll(lease: Lease, starts: dict[int, int]) -> None:
    """Move the lease to ``starts``: what it held is void in windows that rolled over and carried
    (to give back, or owe) in those that did not."""
    if lease.starts == starts:
        return
    for period, start in lease.starts.items():
        if starts.get(period) == start and (lease.requests or lease.tokens):
            _, requests, tokens = lease.carry.get(period, (start, 0, 0))
            lease.carry[period] = (start, requests + lease.requests, tokens + lease.tokens)
    lease.carry = {p: c for p, c in lease.carry.items() if starts.get(p) == c[0]}
    lease.starts = dict(starts)
    lease.requests = lease.tokens = 0


def shortfall(lease: Lease, spec: LimitSpec, tokens: int) -> tuple[int, int]:
    """Requests and tokens the lease lacks to admit one request of ``tokens``."""
    short_r = max(0, 1 - lease.requests) if spec.counts_requests else 0
    short_t = max(0, tokens - lease.tokens) if spec.counts_tokens else 0
    return short_r, short_t


def spend(lease: Lease, spec: LimitSpec, tokens: int) -> None:
    if spec.counts_requests:
        lease.requests -= 1
    if spec.counts_tokens:
        lease.tokens -= tokens


def lease_sizes(lease: Lease, spec: LimitSpec, fraction: float, horizon_s: float) -> tuple[int, int]:
    """The lease to hold: the container's demand over ``horizon_s`` (at least one request), at
    most ``fraction`` of the tightest limits; with ``horizon_s`` 0, always ``fraction`` of them."""
    cap_r, cap_t = spec.lease_sizes(fraction)
    if horizon_s <= 0:
        return cap_r, cap_t
    want_r, want_t = lease.demand.wanted(horizon_s)
    return min(cap_r, max(1, want_r)), min(cap_t, want_t)


def excess(lease: Lease, spec: LimitSpec, fraction: float, horizon_s: float) -> tuple[int, int]:
    """What an old lease holds beyond the container's demand, when that is more than its demand
    again (handed back). Tokens only from a quarter of a full lease: answers that came in under
    their estimates refill a lease's tokens all the time, and a trickle is not worth a write."""
    size_r, size_t = lease_sizes(lease, spec, fraction, horizon_s)
    extra_r, extra_t = lease.requests - size_r, lease.tokens - size_t
    quarter_t = spec.lease_sizes(fraction)[1] / 4
    return (
        extra_r if spec.counts_requests and extra_r > size_r else 0,
        extra_t if spec.counts_tokens and extra_t > size_t and extra_t >= quarter_t else 0,
    )


def amounts(
    lease: Lease,
    spec: LimitSpec,
    short: tuple[int, int],
    fraction: float,
    starts: dict[int, int],
    horizon_s: float = 0.0,
) -> tuple[int, int]:
    """What to charge: the shortfall, topped up to a full lease (:func:`lease_sizes`), but at most
    half of what the windows have left (so the tail of a window is shared out instead of parked in
    one container)."""
    size_r, size_t = lease_sizes(lease, spec, fraction, horizon_s)
    left_r, left_t = _left(spec, lease.seen, starts)
    amount_r = _amount(short[0], size_r - lease.requests, left_r) if spec.counts_requests else 0
    amount_t = _amount(short[1], size_t - lease.tokens, left_t) if spec.counts_tokens else 0
    return amount_r, amount_t


def _amount(short: int, top_up: int, left: int | None) -> int:
    want = max(short, top_up)
    if left is not None:
        want = min(want, max(short, left // 2))
    return max(want, short)


def _left(spec: LimitSpec, seen: ScopeState, starts: dict[int, int]) -> tuple[int | None, int | None]:
    left_r: int | None = None
    left_t: int | None = None
    for w in spec.windows:
        used_r, used_t = _used(seen, w, starts[w.period])
        if w.requests is not None:
            left_r = min(left_r if left_r is not None else w.requests, w.requests - used_r)
        if w.tokens is not None:
            left_t = min(left_t if left_t is not None else w.tokens, w.tokens - used_t)
    return left_r, left_t


def _used(seen: ScopeState, w: WindowLimit, start: int) -> tuple[int, int]:
    stored = seen.windows.get(w.period)
    if stored is None or stored.start != start:
        return 0, 0
    return stored.requests, stored.tokens


def charges(
    lease: Lease, spec: LimitSpec, starts: dict[int, int], amount: tuple[int, int]
) -> list[WindowCharge]:
    """One charge per window, net of what the lease carries back to it."""
    result = []
    for w in spec.windows:
        start = starts[w.period]
        _, back_r, back_t = lease.carry.get(w.period, (start, 0, 0))
        result.append(
            WindowCharge(w.period, start, amount[0] - back_r, amount[1] - back_t, w.requests, w.tokens)
        )
    return result


def denial(
    spec: LimitSpec, seen: ScopeState, starts: dict[int, int], short: tuple[int, int], now: float
) -> Denial | None:
    """Why ``short`` does not fit the shared windows, and when the last blocking one resets; None
    when it fits."""
    blocking: list[Denial] = []
    for w in spec.windows:
        used_r, used_t = _used(seen, w, starts[w.period])
        reset = starts[w.period] + w.period - now
        if w.requests is not None and short[0] > 0 and used_r + short[0] > w.requests:
            blocking.append(Denial(reset, "requests", w.period, w.requests))
        if w.tokens is not None and short[1] > 0 and used_t + short[1] > w.tokens:
            blocking.append(Denial(reset, "tokens", w.period, w.tokens))
    return max(blocking, key=lambda d: d.retry_after_s) if blocking else None


def rate_headers(spec: LimitSpec, lease: Lease, now: float) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` for the tightest window of each
    dimension. Remaining counts what others hold in their leases as taken."""
    headers: dict[str, str] = {}
    for dim, own in (("requests", lease.requests), ("tokens", lease.tokens)):
        best: tuple[int, int, float] | None = None
        for w in spec.windows:
            limit = w.requests if dim == "requests" else w.tokens
            if limit is None:
                continue
            start = lease.starts.get(w.period, window_start(now, w.period))
            used = _used(lease.seen, w, start)[0 if dim == "requests" else 1]
            remaining = min(limit, max(0, limit - used + max(own, 0)))
            if best is None or remaining < best[1]:
                best = (limit, remaining, start + w.period - now)
        if best is not None:
            headers[f"x-ratelimit-limit-{dim}"] = str(best[0])
            headers[f"x-ratelimit-remaining-{dim}"] = str(best[1])
            headers[f"x-ratelimit-reset-{dim}"] = duration(best[2])
    return headers
