"""switchyard.limits: windows, estimates, leases and the limiter, on the memory store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from statekit import T0, Clock
from switchyard.api.chat import ChatRequest
from switchyard.config.routing import RateLimits
from switchyard.limits.lease import Denial, Lease, amounts, charges, lease_sizes, rate_headers, roll
from switchyard.limits.limiter import NO_GRANT, Grant, Limiter
from switchyard.limits.windows import (
    LimitSpec,
    WindowLimit,
    duration,
    estimate_tokens,
    merged,
    spec_of,
    window_start,
)
from switchyard.state.memory import MemoryLimitStore
from switchyard.state.ports import DAY, HOUR, MINUTE, LimitResult, ScopeState, WindowCharge, WindowCount


class CountingStore(MemoryLimitStore):
    """The memory store, counting the calls a DynamoDB store would make."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        self.calls += 1
        return await super().charge(scope, charges)

    async def hold(
        self, scope: str, holder: str, slots: int, *, max_slots: int, now: float, expires_at: float
    ) -> LimitResult:
        self.calls += 1
        return await super().hold(scope, holder, slots, max_slots=max_slots, now=now, expires_at=expires_at)


def rpm(n: int, tpm: int | None = None) -> LimitSpec:
    return LimitSpec((WindowLimit(MINUTE, n, tpm),))


def request(text: str = "x" * 40, **fields: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": text}], **fields}
    )


# ------------------------------------------------------------------------------------ windows


def test_windows_align_to_the_epoch() -> None:
    assert window_start(T0 + 59.9, MINUTE) == T0
    assert window_start(T0 + 60, MINUTE) == T0 + 60
    assert window_start(T0 + 3599, HOUR) == T0
    assert window_start(T0, DAY) % DAY == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250ms"),
        (0.0, "0ms"),
        (1.0, "1s"),
        (12.2, "13s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (7205, "2h0m5s"),
    ],
)
def test_reset_durations_read_like_openai(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_token_estimate_is_prompt_over_four_plus_the_allowed_output() -> None:
    assert estimate_tokens(request("x" * 40), 256) == 10 + 4 + 256
    assert estimate_tokens(request("x" * 41, max_tokens=100), 256) == 11 + 4 + 100
    assert estimate_tokens(request("x" * 40, max_completion_tokens=50, n=3), 256) == 14 + 150
    parts = request([{"type": "text", "text": "x" * 8}, {"type": "text", "text": "y" * 8}], max_tokens=1)
    assert estimate_tokens(parts, 0) == 4 + 4 + 1


def test_specs_keep_only_configured_windows_and_overrides_merge_field_by_field() -> None:
    default = RateLimits(rpm=60, tpm=1000, rpd=5000)
    override = RateLimits.model_validate({"rpm": 10, "max_concurrent": 2})
    spec = spec_of(merged(default, override))
    assert spec.windows == (WindowLimit(MINUTE, 10, 1000), WindowLimit(DAY, 5000, None))
    assert spec.max_concurrent == 2
    assert spec_of(RateLimits()).unlimited
    assert spec.lease_sizes(0.1) == (1, 100)
    assert rpm(600).lease_sizes(0.1) == (60, 0)


# ------------------------------------------------------------------------------------ leases


def test_a_rollover_voids_the_short_window_and_carries_the_rest_to_the_long_one() -> None:
    lease = Lease(starts={MINUTE: int(T0), HOUR: int(T0)}, requests=7, tokens=-20)
    roll(lease, {MINUTE: int(T0) + 60, HOUR: int(T0)})
    assert (lease.requests, lease.tokens) == (0, 0)
    assert lease.carry == {HOUR: (int(T0), 7, -20)}
    spec = LimitSpec((WindowLimit(MINUTE, 10, 1000), WindowLimit(HOUR, 100, 10000)))
    assert charges(lease, spec, lease.starts, (5, 100)) == [
        WindowCharge(MINUTE, int(T0) + 60, 5, 100, 10, 1000),
        WindowCharge(HOUR, int(T0), 5 - 7, 100 + 20, 100, 10000),
    ]
    roll(lease, {MINUTE: int(T0) + 3600, HOUR: int(T0) + 3600})
    assert lease.carry == {}


def test_leases_shrink_near_the_end_of_a_window() -> None:
    spec = rpm(100)
    starts = {MINUTE: int(T0)}
    assert amounts(Lease(), spec, (1, 0), 0.1, starts) == (10, 0)
    nearly_full = Lease(seen=ScopeState({MINUTE: WindowCount(int(T0), 94, 0)}))
    assert amounts(nearly_full, spec, (1, 0), 0.1, starts) == (3, 0)
    full = Lease(seen=ScopeState({MINUTE: WindowCount(int(T0), 100, 0)}))
    assert amounts(full, spec, (1, 0), 0.1, starts) == (1, 0)


def test_rate_headers_name_the_tightest_window() -> None:
    spec = LimitSpec((WindowLimit(MINUTE, 10, 1000), WindowLimit(DAY, 15, None)))
    seen = ScopeState({MINUTE: WindowCount(int(T0), 4, 400), DAY: WindowCount(int(T0 // DAY * DAY), 14, 0)})
    lease = Lease(starts={MINUTE: int(T0), DAY: int(T0 // DAY * DAY)}, requests=2, tokens=100, seen=seen)
    headers = rate_headers(spec, lease, T0 + 30)
    assert headers["x-ratelimit-limit-requests"] == "15"
    assert headers["x-ratelimit-remaining-requests"] == "3"
    assert headers["x-ratelimit-limit-tokens"] == "1000"
    assert headers["x-ratelimit-remaining-tokens"] == "700"
    assert headers["x-ratelimit-reset-tokens"] == "30s"


# ------------------------------------------------------------------------------------ limiter


async def test_scopes_without_limits_cost_nothing() -> None:
    store = CountingStore()
    limiter = Limiter(store, clock=Clock())
    grant = await limiter.admit("key#k", LimitSpec(), 100)
    assert isinstance(grant, Grant) and store.calls == 0
    assert limiter.headers("key#k", LimitSpec()) == {}
    NO_GRANT.settle(5)  # a no-op


async def test_one_charge_buys_a_lease_of_requests() -> None:
    store, clock = CountingStore(), Clock()
    limiter = Limiter(store, lease_fraction=0.1, clock=clock)
    for _ in range(10):
        assert isinstance(await limiter.admit("key#k", rpm(100), 0), Grant)
    assert store.calls == 1
    assert isinstance(await limiter.admit("key#k", rpm(100), 0), Grant)
    assert store.calls == 2
    assert (await store.read("key#k")).windows[MINUTE].requests == 20


async def test_a_full_window_refuses_until_it_resets() -> None:
    store, clock = CountingStore(), Clock(T0 + 45)
    limiter = Limiter(store, lease_fraction=0.5, clock=clock)
    for _ in range(3):
        assert isinstance(await limiter.admit("key#k", rpm(3), 0), Grant)
    refused = await limiter.admit("key#k", rpm(3), 0)
    assert refused == Denial(15.0, "requests", MINUTE, 3)
    calls = store.calls
    clock.advance(0.5)
    again = await limiter.admit("key#k", rpm(3), 0)
    assert isinstance(again, Denial) and again.retry_after_s == pytest.approx(14.5)
    assert store.calls == calls  # refused locally for a moment: no call
    clock.advance(14.5)
    assert isinstance(await limiter.admit("key#k", rpm(3), 0), Grant)


async def test_requests_over_the_tokens_limit_are_refused_but_smaller_ones_pass() -> None:
    limiter = Limiter(MemoryLimitStore(), clock=Clock())
    assert isinstance(await limiter.admit("key#k", rpm(100, tpm=1000), 900), Grant)
    refused = await limiter.admit("key#k", rpm(100, tpm=1000), 200)
    assert isinstance(refused, Denial) and refused.dimension == "tokens"
    assert isinstance(await limiter.admit("key#k", rpm(100, tpm=1000), 100), Grant)


async def test_settling_gives_back_overestimated_tokens_and_owes_underestimated_ones() -> None:
    store = CountingStore()
    limiter = Limiter(store, lease_fraction=0.1, clock=Clock())
    spec = rpm(1000, tpm=10_000)  # leases of 100 requests, 1000 tokens
    grant = await limiter.admit("key#k", spec, 600)
    assert isinstance(grant, Grant) and store.calls == 1
    grant.settle(100)  # 500 back into the lease
    grant.settle(0)  # settled once only
    assert isinstance(await limiter.admit("key#k", spec, 900), Grant)
    assert store.calls == 1  # paid from what came back
    under = await limiter.admit("key#k", spec, 100)
    assert isinstance(under, Grant) and store.calls == 2
    under.settle(2000)  # 1900 more than estimated: the lease (900 left) owes 1000
    assert limiter._leases["key#k"].tokens == -1000
    assert isinstance(await limiter.admit("key#k", spec, 1), Grant)
    # The debt went to the store with the next lease: 1000 + 1000 + (1000 owed + 1000 new).
    assert (await store.read("key#k")).windows[MINUTE].tokens == 4000
    assert limiter._leases["key#k"].tokens == 999


async def test_a_rollover_gives_the_unspent_lease_back_to_the_longer_windows() -> None:
    store, clock = MemoryLimitStore(), Clock()
    spec = LimitSpec((WindowLimit(MINUTE, 100, None), WindowLimit(HOUR, 1000, None)))
    limiter = Limiter(store, lease_fraction=0.1, clock=clock)
    assert isinstance(await limiter.admit("key#k", spec, 0), Grant)  # leases 10, spends 1
    assert (await store.read("key#k")).windows[HOUR].requests == 10
    clock.advance(60)
    assert isinstance(await limiter.admit("key#k", spec, 0), Grant)  # 9 back, 10 new
    state = await store.read("key#k")
    assert state.windows[HOUR].requests == 11
    assert state.windows[MINUTE] == WindowCount(int(T0) + 60, 10, 0)


async def test_concurrency_slots_are_shared_sticky_and_expire() -> None:
    store, clock = CountingStore(), Clock()
    spec = LimitSpec(max_concurrent=2)
    a = Limiter(store, slot_ttl_s=100, clock=clock, holder="a")
    b = Limiter(store, slot_ttl_s=100, clock=clock, holder="b")
    first, second = await a.admit("dep#d", spec, 0), await b.admit("dep#d", spec, 0)
    assert isinstance(first, Grant) and isinstance(second, Grant)
    refused = await a.admit("dep#d", spec, 0)
    assert isinstance(refused, Denial) and refused.dimension == "concurrent"
    first.settle(None)
    calls = store.calls
    reused = await a.admit("dep#d", spec, 0)
    assert isinstance(reused, Grant) and store.calls == calls  # a's slot, kept: no call
    reused.settle(None)
    second.settle(None)
    clock.advance(100)  # b idle past its slot's life: its slot is free again
    both = [await a.admit("dep#d", spec, 0), await a.admit("dep#d", spec, 0)]
    assert all(isinstance(g, Grant) for g in both)


async def test_a_refused_window_releases_the_slot_it_took() -> None:
    limiter = Limiter(MemoryLimitStore(), clock=Clock())
    spec = LimitSpec((WindowLimit(MINUTE, 1, None),), max_concurrent=1)
    grant = await limiter.admit("key#k", spec, 0)
    assert isinstance(grant, Grant)
    grant.settle(None)
    assert isinstance(await limiter.admit("key#k", spec, 0), Denial)
    assert limiter._leases["key#k"].inflight == 0


@pytest.mark.parametrize("seed", range(5))
async def test_instances_sharing_a_limit_admit_at_most_the_limit(seed: int) -> None:
    """The lease bound (docs/state.md): N admitted per window at most, whatever the interleaving,
    and at least N - instances x (lease - 1) while the demand is higher."""
    rng = random.Random(seed)
    store, clock = MemoryLimitStore(), Clock()
    instances = [Limiter(store, lease_fraction=0.1, clock=clock, holder=str(i)) for i in range(4)]
    limit, lease = 50, 5

    async def one(limiter: Limiter) -> bool:
        await asyncio.sleep(rng.random() / 1000)
        return isinstance(await limiter.admit("key#k", rpm(limit), 0), Grant)

    admitted = sum(await asyncio.gather(*(one(rng.choice(instances)) for _ in range(200))))
    assert limit - len(instances) * (lease - 1) <= admitted <= limit
    assert (await store.read("key#k")).windows[MINUTE].requests <= limit


# ------------------------------------------------------------------------ demand-sized leases


def hourly(n: int) -> LimitSpec:
    """An hour window: no rollover while a test's clock moves a few minutes."""
    return LimitSpec((WindowLimit(HOUR, n, None),))


async def test_a_fresh_container_leases_one_request_and_grows_with_its_own_rate() -> None:
    store, clock = CountingStore(), Clock(T0 // HOUR * HOUR)
    limiter = Limiter(store, lease_fraction=0.1, lease_horizon_s=30, clock=clock)
    assert isinstance(await limiter.admit("key#k", hourly(10_000), 0), Grant)
    assert (await store.read("key#k")).windows[HOUR].requests <= 2  # no demand known: a unit or two
    for _ in range(120):  # two requests a second for a minute
        clock.advance(0.5)
        assert isinstance(await limiter.admit("key#k", hourly(10_000), 0), Grant)
    lease = limiter._leases["key#k"]
    charged = (await store.read("key#k")).windows[HOUR].requests
    assert charged == 121 + lease.requests  # spent + held
    # Leases now cover about 30 s of this container's demand (~2/s, a decayed estimate), far below
    # the 1,000 a fixed lease_fraction of 0.1 would take, at a write every few dozen requests.
    assert 20 <= lease_sizes(lease, hourly(10_000), 0.1, 30)[0] <= 60
    assert charged < 200 and store.calls < 20


async def test_an_old_lease_hands_back_what_exceeds_the_containers_demand() -> None:
    store, clock = CountingStore(), Clock(T0 // HOUR * HOUR)
    limiter = Limiter(store, lease_fraction=0.1, lease_horizon_s=30, clock=clock)
    lease = limiter._leases.setdefault("key#k", Lease())
    for _ in range(600):  # ten a second for a minute: leases grow to the cap (200)
        clock.advance(0.1)
        await limiter.admit("key#k", hourly(2000), 0)
    while lease.requests < 150:  # until a fresh lease
        clock.advance(0.1)
        await limiter.admit("key#k", hourly(2000), 0)
    held = lease.requests
    before = (await store.read("key#k")).windows[HOUR].requests
    clock.advance(120)  # quiet: the demand decays, the lease grows old
    assert isinstance(await limiter.admit("key#k", hourly(2000), 0), Grant)
    after = (await store.read("key#k")).windows[HOUR].requests
    assert after == before - (held - 1 - lease.requests)  # the excess went back to the pool
    assert lease.requests <= 10


async def test_a_lease_never_passes_the_fraction_of_the_limit() -> None:
    store, clock = CountingStore(), Clock(T0 // HOUR * HOUR)
    limiter = Limiter(store, lease_fraction=0.01, lease_horizon_s=3600, clock=clock)
    for _ in range(500):
        clock.advance(0.01)
        await limiter.admit("key#k", hourly(1000), 0)
    assert limiter._leases["key#k"].requests <= 10


@pytest.mark.parametrize("seed", range(3))
async def test_a_hundred_instances_share_a_limit_within_a_few_percent(seed: int) -> None:
    """The fan-out bound (docs/state.md): a burst over many instances is admitted up to the
    limit, never past it, and hardly below it (fixed leases admitted ~20 % here)."""
    rng = random.Random(seed)
    store, clock = MemoryLimitStore(), Clock(T0 // MINUTE * MINUTE)
    instances = [
        Limiter(store, lease_fraction=0.1, lease_horizon_s=30, clock=clock, holder=str(i)) for i in range(100)
    ]
    limit = 600
    admitted = 0
    for t in sorted(rng.random() * 59 for _ in range(2 * limit)):
        clock.now = T0 // MINUTE * MINUTE + t
        admitted += isinstance(await rng.choice(instances).admit("key#k", rpm(limit), 0), Grant)
    assert 0.95 * limit <= admitted <= limit
    assert (await store.read("key#k")).windows[MINUTE].requests <= limit
