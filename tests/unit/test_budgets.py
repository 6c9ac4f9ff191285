"""Budgets that act: reservations against caps, block and downgrade at 100 %, thresholds sent once
per period, the global override, and what one container writes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from statekit import Clock
from switchyard.api.chat import ChatRequest
from switchyard.budgets.periods import PERIODS, period_end, period_key, previous_key
from switchyard.budgets.service import Budgets
from switchyard.config.routing import RoutingConfig
from switchyard.errors import BudgetExceededError
from switchyard.events import BUDGET_THRESHOLD, MemoryPublisher
from switchyard.keys.auth import Identity
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryKeyStore
from switchyard.state.memory_budgets import MemoryBudgetStore
from switchyard.state.ports import BudgetOverride, TenantRecord

D = Decimal
NOON = datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp()


def config(**budgets: Any) -> RoutingConfig:
    price = {"input": "1000000", "output": "1000000"}  # $1 a token: estimates are token counts
    cheap = {"input": "100000", "output": "100000"}
    return RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock"}},
            "models": {
                "big": {"deployments": [{"provider": "p", "model": "big", "price": price}]},
                "small": {"deployments": [{"provider": "p", "model": "small", "price": cheap}]},
            },
            "budgets": budgets,
        }
    )


class CountingStore(MemoryBudgetStore):
    def __init__(self, clock: Clock, keys: MemoryKeyStore) -> None:
        super().__init__(clock=clock, keys=keys)
        self.charges = 0

    async def charge(self, *args: Any, **kwargs: Any) -> Any:
        self.charges += 1
        await asyncio.sleep(0)  # a real store answers later: lets concurrent requests queue
        return await super().charge(*args, **kwargs)


def make(clock: Clock, **budgets: Any) -> tuple[Budgets, CountingStore, MemoryPublisher, MemoryKeyStore]:
    cfg = config(**budgets)
    keys = MemoryKeyStore(clock=clock)
    store, events = CountingStore(clock, keys), MemoryPublisher()
    service = Budgets(store, cfg.budgets, RouteTable(cfg), prices=None, events=events, clock=clock)
    return service, store, events, keys


def request(model: str = "big", max_tokens: int = 6, text: str = "abcd") -> ChatRequest:
    # "abcd" is 1 token, plus the per-message overhead: the estimate is deterministic.
    return ChatRequest.model_validate(
        {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}
    )


def key(budgets: dict[str, str] | None = None, action: str = "block") -> Identity:
    return Identity(
        "k_1",
        "acme",
        budgets={p: D(v) for p, v in (budgets or {}).items()},
        budget_action=action,  # type: ignore[misc, arg-type]
    )


def test_period_keys_and_ends() -> None:
    new_year = datetime(2027, 1, 1, 0, 30, tzinfo=UTC).timestamp()
    assert [period_key(p, NOON) for p in PERIODS] == ["d2026-11-23", "w2026-W48", "m2026-11"]
    # 2027-01-01 is a Friday of ISO week 2026-W53, which began on Monday 2026-12-28.
    assert [period_key(p, new_year) for p in PERIODS] == ["d2027-01-01", "w2026-W53", "m2027-01"]
    assert [previous_key(p, new_year) for p in PERIODS] == ["d2026-12-31", "w2026-W52", "m2026-12"]
    assert period_end("weekly", NOON) == datetime(2026, 11, 30, tzinfo=UTC).timestamp()
    assert period_end("monthly", new_year) == datetime(2027, 2, 1, tzinfo=UTC).timestamp()


def test_the_estimate_is_prompt_plus_the_output_limit_at_the_routes_highest_price() -> None:
    service, *_ = make(Clock(NOON))
    one = service.estimate(request(max_tokens=6), "big")
    assert one == service.estimate(request(max_tokens=5), "big") + 1  # $1 per output token
    assert service.estimate(request(max_tokens=6), "small") == one / 10
    no_limit = request().model_copy(update={"max_tokens": None})
    assert service.estimate(no_limit, "big") == one - 6 + 1024  # estimate_output_tokens


async def test_a_key_budget_blocks_with_429_until_the_period_ends() -> None:
    clock = Clock(NOON)
    service, _store, events, _ = make(clock)
    ident = key({"daily": "30"})
    est = service.estimate(request(), "big")
    admitted = 0
    with pytest.raises(BudgetExceededError) as refused:
        for _ in range(100):
            ticket = await service.admit(request(), ident)
            ticket.settle(est)  # the answer cost what was reserved
            admitted += 1
    assert admitted == int(D(30) // est)
    assert refused.value.status == 429 and refused.value.code == "budget_exceeded"
    assert refused.value.retry_after == 12 * 3600  # noon to midnight UTC
    thresholds = [d["threshold"] for t, d in events.events if t == BUDGET_THRESHOLD]
    assert thresholds == [50, 80, 90, 100]


async def test_unspent_reservations_are_given_back_with_the_next_write() -> None:
    clock = Clock(NOON)
    service, store, _, _ = make(clock)
    ident = key({"daily": "100"})
    for _ in range(10):
        (await service.admit(request(), ident)).settle(D(1))
    est = service.estimate(request(), "big")
    spent = (await store.charge("key#k_1", D(0), {"d2026-11-23": None}, expires_at=NOON + 86400)).spent
    # Nine answers settled on later writes; the last one's difference is still in memory.
    assert spent["d2026-11-23"] == 9 + est
    await service.flush()
    spent = (await store.charge("key#k_1", D(0), {"d2026-11-23": None}, expires_at=NOON + 86400)).spent
    assert spent["d2026-11-23"] == 10


async def test_concurrent_requests_of_one_container_share_a_write() -> None:
    clock = Clock(NOON)
    service, store, _, _ = make(clock)
    ident = key({"monthly": "1000"})
    tickets = await asyncio.gather(*(service.admit(request(), ident) for _ in range(50)))
    assert len(tickets) == 50 and store.charges <= 3


async def test_a_group_that_does_not_fit_admits_what_does() -> None:
    clock = Clock(NOON)
    service, _store, _, _ = make(clock)
    est = service.estimate(request(), "big")
    ident = key({"daily": str(est * 3)})
    results = await asyncio.gather(
        *(service.admit(request(), ident) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert all(isinstance(r, BudgetExceededError) for r in results if isinstance(r, BaseException))


async def test_a_downgrade_budget_serves_the_cheaper_model_and_keeps_counting() -> None:
    clock = Clock(NOON)
    service, store, _events, _ = make(clock, downgrade={"big": "small"})
    est = service.estimate(request(), "big")
    ident = key({"daily": str(est)}, action="downgrade")
    first = await service.admit(request(), ident)
    assert first.downgraded_to is None
    first.settle(est)
    second = await service.admit(request(), ident)
    assert second.downgraded_to == "small" and second.headers() == {"x-switchyard-budget": "downgraded"}
    second.settle(est / 10)
    third = await service.admit(request("small"), ident)  # already the cheap model: served as is
    assert third.downgraded_to is None
    third.settle(est / 10)
    await service.flush()
    spent = (await store.charge("key#k_1", D(0), {"d2026-11-23": None}, expires_at=NOON + 86400)).spent
    assert spent["d2026-11-23"] == est + 2 * est / 10  # spending over budget is still counted


async def test_without_a_downgrade_target_a_downgrade_budget_blocks() -> None:
    service, *_ = make(Clock(NOON))
    ident = key({"daily": "0"}, action="downgrade")
    with pytest.raises(BudgetExceededError):
        await service.admit(request(), ident)


async def test_tenant_and_global_budgets_apply_and_a_refusal_gives_back_the_others() -> None:
    clock = Clock(NOON)
    service, store, events, keys = make(clock, **{"global": {"monthly": "1000"}})
    await keys.put_tenant(TenantRecord("acme", budgets={"weekly": D("0")}))
    with pytest.raises(BudgetExceededError, match="tenant's weekly budget"):
        await service.admit(request(), key({"daily": "100"}))
    await service.flush()
    for scope in ("key#k_1", "global"):
        spent = (
            await store.charge(scope, D(0), {"d2026-11-23": None, "m2026-11": None}, expires_at=NOON + 1)
        ).spent
        assert sum(spent.values()) == 0, scope
    # A refusal crosses every threshold at once; only the tenant's budget was reached.
    assert [(d["scope"], d["threshold"]) for _, d in events.events] == [
        ("tenant", t) for t in (50, 80, 90, 100)
    ]


async def test_thresholds_are_sent_once_per_period_across_instances() -> None:
    clock = Clock(NOON)
    a, store, events, _keys = make(clock)
    b = Budgets(store, config().budgets, RouteTable(config()), prices=None, events=events, clock=clock)
    ident = key({"daily": "100"})
    est = service_est = a.estimate(request(), "big")
    for i in range(int(D(100) // service_est)):
        (await (a if i % 2 else b).admit(request(), ident)).settle(est)
    assert sorted(d["threshold"] for t, d in events.events) == [50, 80, 90]
    clock.advance(86400)  # a new day: new period, the thresholds are sent again
    for _ in range(int(D(55) // est) + 1):
        (await a.admit(request(), ident)).settle(est)
    assert [d["period_key"] for t, d in events.events][-1] == "2026-11-24"


async def test_the_global_override_blocks_or_downgrades_every_request() -> None:
    clock = Clock(NOON)
    service, store, _, _ = make(clock, downgrade={"big": "small"})
    await store.set_override(BudgetOverride("downgrade", "cost-daily", NOON), changed_at=NOON)
    assert (await service.admit(request(), None)).downgraded_to == "small"
    await store.set_override(BudgetOverride("block", "cost-daily", NOON), changed_at=NOON + 1)
    assert (await service.admit(request(), None)).downgraded_to == "small"  # warm cache: 60 s
    clock.advance(60)
    with pytest.raises(BudgetExceededError, match="gateway's budget"):
        await service.admit(request(), None)
    await store.set_override(None, changed_at=NOON + 2)
    clock.advance(60)
    assert (await service.admit(request(), None)).downgraded_to is None


class DownStore(MemoryBudgetStore):
    async def charge(self, *args: Any, **kwargs: Any) -> Any:
        from switchyard.state.ports import StateUnavailableError

        raise StateUnavailableError("throttled")


async def test_budget_state_that_cannot_be_reached_fails_open() -> None:
    clock = Clock(NOON)
    cfg = config()
    service = Budgets(
        DownStore(clock=clock),
        cfg.budgets,
        RouteTable(cfg),
        prices=None,
        events=MemoryPublisher(),
        clock=clock,
    )
    tickets = [await service.admit(request(), key({"daily": "0.000001"})) for _ in range(3)]
    assert all(t.downgraded_to is None for t in tickets)


async def test_budget_state_that_cannot_be_reached_refuses_with_503_when_failing_closed() -> None:
    from switchyard.errors import GatewayError

    clock = Clock(NOON)
    cfg = config()
    service = Budgets(
        DownStore(clock=clock),
        cfg.budgets,
        RouteTable(cfg),
        prices=None,
        events=MemoryPublisher(),
        clock=clock,
        fail_closed=True,
    )
    with pytest.raises(GatewayError) as refused:
        await service.admit(request(), key({"daily": "100"}))
    assert refused.value.status == 503 and refused.value.code == "budgets_unavailable"
    assert (await service.admit(request(), key())).downgraded_to is None  # no budget: nothing to check


# ------------------------------------------------------------------------ sharded counters


def sharded(clock: Clock, seed: int = 0, **budgets: Any) -> tuple[Budgets, CountingStore, MemoryPublisher]:
    cfg = config(**{"expected_rps": 500, "shard_writes_per_s": 50, **budgets})  # 10 shards
    keys = MemoryKeyStore(clock=clock)
    store, events = CountingStore(clock, keys), MemoryPublisher()
    service = Budgets(
        store, cfg.budgets, RouteTable(cfg), prices=None, events=events, clock=clock, rng=random.Random(seed)
    )
    return service, store, events


def test_shards_follow_the_expected_rate() -> None:
    budgets = config(expected_rps=5000, tenant_expected_rps=120, shard_writes_per_s=50).budgets
    assert (budgets.shards(5000), budgets.shards(120), budgets.shards(0)) == (100, 3, 1)


class OneShard(random.Random):
    """Every write goes to shard ``n``."""

    def __init__(self, n: int) -> None:
        super().__init__(0)
        self.n = n

    def randrange(self, *_: Any, **__: Any) -> int:  # type: ignore[override]
        return self.n


@pytest.mark.parametrize("seed", range(3))
async def test_a_sharded_global_budget_never_passes_its_cap_and_fills_it(seed: int) -> None:
    clock = Clock(NOON)
    service, store, events = sharded(clock, seed, **{"global": {"daily": "1000"}})
    assert service.shards(service.global_scope()) == 10  # type: ignore[arg-type]
    est = service.estimate(request(), "big")  # 11 a request, caps of 100 a shard
    admitted = 0
    for _ in range(150):
        try:
            ticket = await service.admit(request(), None)
        except BudgetExceededError:
            clock.advance(5)  # past the local refusal memory: ask the store again
            continue
        admitted += 1
        ticket.settle(est)
    await service.flush()
    spent = (await store.spent("global", shards=10))["d2026-11-23"]
    assert spent <= 1000  # never over, summed over the shards
    # Refused only when no shard had room for a request: within shards x one request of the cap.
    assert spent > 1000 - 10 * est and admitted == spent / est
    assert all(await store.shard_spent("global", 10))  # the writes spread over every shard
    assert sorted(d["threshold"] for _, d in events.events) == [50, 80, 90, 100]


async def test_a_full_shard_sends_the_write_to_the_one_with_most_room() -> None:
    clock = Clock(NOON)
    service, store, _ = sharded(clock, **{"global": {"daily": "1000"}})
    service._rng = OneShard(4)
    await store.charge("global", D("95"), {"d2026-11-23": D("100")}, expires_at=NOON + 86400, shard=4)
    await store.charge("global", D("50"), {"d2026-11-23": D("100")}, expires_at=NOON + 86400, shard=7)
    (await service.admit(request(), None)).settle(D(11))
    counters = await store.shard_spent("global", 10)
    assert counters[4]["d2026-11-23"] == 95  # full for a request of 11: untouched
    assert sum(counters[i].get("d2026-11-23", 0) for i in range(10)) == 95 + 50 + 11
    assert counters[7]["d2026-11-23"] == 50  # not the roomiest


async def test_a_threshold_waits_for_the_sum_of_the_shards() -> None:
    clock = Clock(NOON)
    service, store, events = sharded(clock, **{"global": {"daily": "1000"}})
    service._rng = OneShard(4)
    # Shard 4 at 60 % of its share reads as 60 % overall, but the shards sum to 6 %: no event.
    await store.charge("global", D("49"), {"d2026-11-23": D("100")}, expires_at=NOON + 86400, shard=4)
    (await service.admit(request(), None)).settle(D(11))
    assert not events.events
    # Once the sum is there, the event goes out (after the re-check interval).
    for i in set(range(10)) - {4}:
        await store.charge("global", D("50"), {"d2026-11-23": D("100")}, expires_at=NOON + 86400, shard=i)
    clock.advance(5)
    (await service.admit(request(), None)).settle(D(11))
    assert [d["threshold"] for _, d in events.events] == [50]
