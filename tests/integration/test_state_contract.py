"""One contract per state port, run over every adapter: memory, and DynamoDB on moto with the
tables of template.yaml. ``backend()`` gives an instance's view of one shared store: the memory
adapter is the store itself; each DynamoDB view has its own client and item copies, as separate
Lambda instances do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from statekit import T0, Clock, dynamo_stores
from switchyard.state.memory import (
    MemoryBreakerStore,
    MemoryKeyStore,
    MemoryLimitStore,
    MemoryResponseCache,
    MemoryUsageLedger,
)
from switchyard.state.ports import (
    HOUR,
    MINUTE,
    BreakerRecord,
    BreakerStatus,
    BreakerStore,
    Holding,
    KeptValue,
    KeyRecord,
    KeyStore,
    LimitStore,
    ResponseCache,
    SigningSalt,
    TenantRecord,
    UsageDelta,
    UsageLedger,
    ValueTooLargeError,
    WindowCharge,
    WindowCount,
)


@dataclass
class Instance:
    breakers: BreakerStore
    limits: LimitStore
    cache: ResponseCache
    keys: KeyStore
    usage: UsageLedger


Backend = Callable[[], Instance]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Backend]:
    if request.param == "memory":
        shared = Instance(
            MemoryBreakerStore(),
            MemoryLimitStore(),
            MemoryResponseCache(clock=clock),
            MemoryKeyStore(clock=clock),
            MemoryUsageLedger(),
        )
        yield lambda: shared
        return
    resources: Any = request.getfixturevalue("state_tables")
    with ExitStack() as stack:

        def instance() -> Instance:
            d = stack.enter_context(dynamo_stores(resources, clock))
            return Instance(d.state, d.state, d.cache, d.keys, d.usage)

        yield instance


# ------------------------------------------------------------------------------------ breakers

OPENED = BreakerRecord(status=BreakerStatus.OPEN, opened_at=T0, window_start=T0, version=1)


async def test_breaker_of_an_unknown_deployment_is_closed_at_version_0(backend: Backend) -> None:
    assert await backend().breakers.load("d") == BreakerRecord()


async def test_breaker_saved_by_one_instance_is_loaded_by_another(backend: Backend) -> None:
    assert await backend().breakers.save("d", OPENED, expected_version=0)
    assert await backend().breakers.load("d") == OPENED


async def test_breaker_save_on_a_stale_version_loses_and_the_winner_is_loaded(backend: Backend) -> None:
    a, b = backend().breakers, backend().breakers
    assert await a.load("d") == await b.load("d") == BreakerRecord()
    counted = BreakerRecord(failures=1, window_start=T0, version=1)
    assert await a.save("d", counted, expected_version=0)
    assert not await b.save("d", OPENED, expected_version=0)
    assert await b.load("d") == counted
    parked = BreakerRecord(failures=1, window_start=T0, parked_until=T0 + 60, version=2)
    assert await b.save("d", parked, expected_version=1)
    assert await a.load("d") == parked


async def test_concurrent_breaker_transitions_have_exactly_one_winner(backend: Backend) -> None:
    stores = [backend().breakers for _ in range(4)]
    wins = await asyncio.gather(
        *(
            s.save(
                "d", BreakerRecord(status=BreakerStatus.OPEN, opened_at=T0 + i, version=1), expected_version=0
            )
            for i, s in enumerate(stores)
        )
    )
    assert sorted(wins) == [False, False, False, True]


async def test_load_all_gives_every_saved_record(backend: Backend) -> None:
    store = backend().breakers
    other = BreakerRecord(failures=2, window_start=T0, version=1)
    assert await store.save("d1", OPENED, expected_version=0)
    assert await store.save("d2", other, expected_version=0)
    assert await store.load_all() == {"d1": OPENED, "d2": other}


# ------------------------------------------------------------------------------------ limits


def minute(
    requests: int = 0, tokens: int = 0, *, start: float = T0, rpm: int | None = 10, tpm: int | None = 1000
):
    return WindowCharge(MINUTE, int(start), requests, tokens, rpm, tpm)


async def test_charge_within_the_limits_applies_and_returns_the_totals(backend: Backend) -> None:
    limits = backend().limits
    first = await limits.charge("key#k", [minute(3, 300)])
    assert first.applied and first.state.windows[MINUTE] == WindowCount(int(T0), 3, 300)
    second = await backend().limits.charge("key#k", [minute(7, 700)])
    assert second.applied and second.state.windows[MINUTE] == WindowCount(int(T0), 10, 1000)


@pytest.mark.parametrize("charge", [minute(11, 0), minute(1, 1001)], ids=["requests", "tokens"])
async def test_charge_over_a_limit_does_not_apply(backend: Backend, charge: WindowCharge) -> None:
    limits = backend().limits
    assert (await limits.charge("key#k", [minute(1, 1)])).applied
    refused = await limits.charge("key#k", [charge])
    assert not refused.applied
    assert refused.state.windows[MINUTE] == WindowCount(int(T0), 1, 1)
    assert (await backend().limits.read("key#k")).windows[MINUTE] == WindowCount(int(T0), 1, 1)


async def test_charges_across_windows_are_all_or_nothing(backend: Backend) -> None:
    limits = backend().limits
    hour = WindowCharge(HOUR, int(T0), 5, 0, 6, None)
    assert (await limits.charge("key#k", [minute(5), hour])).applied
    refused = await limits.charge("key#k", [minute(2), WindowCharge(HOUR, int(T0), 2, 0, 6, None)])
    assert not refused.applied
    state = await backend().limits.read("key#k")
    assert state.windows == {MINUTE: WindowCount(int(T0), 5, 0), HOUR: WindowCount(int(T0), 5, 0)}


async def test_a_newer_window_starts_from_zero_and_an_older_one_is_refused(backend: Backend) -> None:
    limits = backend().limits
    assert (await limits.charge("key#k", [minute(10, 1000)])).applied
    rolled = await backend().limits.charge("key#k", [minute(4, 40, start=T0 + 60)])
    assert rolled.applied and rolled.state.windows[MINUTE] == WindowCount(int(T0) + 60, 4, 40)
    late = await limits.charge("key#k", [minute(1, 1)])
    assert not late.applied and late.state.windows[MINUTE].start == int(T0) + 60


async def test_negative_charges_give_capacity_back(backend: Backend) -> None:
    limits = backend().limits
    assert (await limits.charge("key#k", [minute(10, 900)])).applied
    assert not (await limits.charge("key#k", [minute(1, 0)])).applied
    back = await limits.charge("key#k", [minute(-4, -400)])
    assert back.applied and back.state.windows[MINUTE] == WindowCount(int(T0), 6, 500)
    assert (await backend().limits.charge("key#k", [minute(4, 500)])).applied


async def test_concurrent_charges_from_many_instances_never_exceed_the_limit(backend: Backend) -> None:
    instances = [backend().limits for _ in range(4)]
    results = await asyncio.gather(*(instances[i % 4].charge("key#k", [minute(1, 10)]) for i in range(30)))
    assert sum(r.applied for r in results) == 10
    assert (await backend().limits.read("key#k")).windows[MINUTE] == WindowCount(int(T0), 10, 100)


async def test_hold_takes_slots_up_to_the_maximum(backend: Backend) -> None:
    a, b = backend().limits, backend().limits
    until = T0 + 300
    assert (await a.hold("dep#d", "a", 2, max_slots=3, now=T0, expires_at=until)).applied
    assert not (await b.hold("dep#d", "b", 2, max_slots=3, now=T0, expires_at=until)).applied
    taken = await b.hold("dep#d", "b", 1, max_slots=3, now=T0, expires_at=until)
    assert taken.applied and taken.state.holders == {"a": Holding(2, until), "b": Holding(1, until)}
    assert (await a.hold("dep#d", "a", 1, max_slots=1, now=T0, expires_at=until)).applied  # lowering
    assert (await a.hold("dep#d", "a", 0, max_slots=3, now=T0, expires_at=until)).state.holders == {
        "b": Holding(1, until)
    }


async def test_expired_holders_free_their_slots(backend: Backend) -> None:
    a, b = backend().limits, backend().limits
    assert (await a.hold("dep#d", "a", 3, max_slots=3, now=T0, expires_at=T0 + 10)).applied
    assert not (await b.hold("dep#d", "b", 1, max_slots=3, now=T0 + 5, expires_at=T0 + 20)).applied
    later = await b.hold("dep#d", "b", 3, max_slots=3, now=T0 + 10, expires_at=T0 + 20)
    assert later.applied and later.state.holders == {"b": Holding(3, T0 + 20)}


async def test_concurrent_holds_never_exceed_the_maximum(backend: Backend) -> None:
    instances = [backend().limits for _ in range(4)]
    results = await asyncio.gather(
        *(
            instances[i % 4].hold("dep#d", f"h{i}", 1, max_slots=5, now=T0, expires_at=T0 + 60)
            for i in range(12)
        )
    )
    assert sum(r.applied for r in results) == 5
    assert (await backend().limits.read("dep#d")).live_slots(T0) == 5


# ------------------------------------------------------------------------------------ cache


async def test_cache_round_trip_overwrite_and_miss(backend: Backend) -> None:
    cache = backend().cache
    assert await cache.get("k") is None
    await cache.put("k", b"\x00first", expires_at=T0 + 60)
    assert await backend().cache.get("k") == b"\x00first"
    await cache.put("k", b"second", expires_at=T0 + 60)
    assert await backend().cache.get("k") == b"second"


async def test_cache_entries_expire(backend: Backend, clock: Clock) -> None:
    cache = backend().cache
    await cache.put("k", b"v", expires_at=T0 + 60)
    clock.advance(60)
    assert await cache.get("k") is None


async def test_cache_keeps_a_value_past_its_ttl_for_stale_reads_only(backend: Backend, clock: Clock) -> None:
    cache = backend().cache
    await cache.put("k", b"v", expires_at=T0 + 60, keep_until=T0 + 600)
    assert await backend().cache.get_kept("k") == KeptValue(b"v", T0 + 60)
    clock.advance(60)
    assert await backend().cache.get("k") is None  # past its TTL: never a hit
    assert await backend().cache.get_kept("k") == KeptValue(b"v", T0 + 60)
    clock.advance(540)
    assert await backend().cache.get_kept("k") is None


async def test_cache_without_keep_is_gone_for_stale_reads_at_its_ttl(backend: Backend, clock: Clock) -> None:
    cache = backend().cache
    await cache.put("k", b"v", expires_at=T0 + 60)
    await cache.put("short", b"s", expires_at=T0 + 60, keep_until=T0 + 30)  # never kept less
    clock.advance(59)
    assert await backend().cache.get_kept("short") == KeptValue(b"s", T0 + 60)
    clock.advance(1)
    assert await backend().cache.get_kept("k") is None
    assert await backend().cache.get_kept("short") is None


async def test_cache_refuses_values_over_its_limit(backend: Backend) -> None:
    cache = backend().cache
    assert 100_000 < cache.max_value_bytes < 400 * 1024
    await cache.put("k", b"x" * cache.max_value_bytes, expires_at=T0 + 60)
    with pytest.raises(ValueTooLargeError):
        await cache.put("big", b"x" * (cache.max_value_bytes + 1), expires_at=T0 + 60)
    assert await cache.get("big") is None


async def test_purge_markers_are_shared_move_forward_and_are_forgotten_when_old(backend: Backend) -> None:
    one, other = backend().cache, backend().cache
    assert await one.purges() == {}
    await one.purge("key#k_1", T0 + 10, forget_before=0)
    await other.purge("model#m", T0 + 5, forget_before=0)
    await other.purge("key#k_1", T0 + 7, forget_before=0)  # earlier than the marker: it stays
    assert await one.purges() == {"key#k_1": T0 + 10, "model#m": T0 + 5}
    await one.purge("all", T0 + 20, forget_before=T0 + 6)  # model#m is older than any entry now
    assert await other.purges() == {"key#k_1": T0 + 10, "all": T0 + 20}
    await one.put("k", b"v", expires_at=T0 + 60)  # entries and markers live side by side
    assert await other.get("k") == b"v"


async def test_concurrent_purges_of_different_scopes_all_land(backend: Backend) -> None:
    scopes = [f"tenant#t{i}" for i in range(6)]
    await asyncio.gather(*(backend().cache.purge(s, T0 + i, forget_before=0) for i, s in enumerate(scopes)))
    assert await backend().cache.purges() == {s: T0 + i for i, s in enumerate(scopes)}


# ------------------------------------------------------------------------------------ keys

RECORD = KeyRecord(
    key_id="k_1",
    key_hash="ab" * 32,
    tenant="acme",
    name="ci",
    created_at=T0,
    models=("gpt-4o-mini", "claude-haiku-4-5"),
    budgets={"weekly": Decimal("12.345"), "daily": Decimal("2")},
    budget_action="downgrade",
    limits={"rpm": 60, "tpm": 10_000, "max_concurrent": 2},
    metadata={"team": "search"},
    guardrails=("pii", "words"),
    signing=(SigningSalt("00ff" * 8, T0), SigningSalt("aa11" * 8, T0 - 60, expires_at=T0 + 3600)),
    require_signature=True,
)


async def test_key_put_get_and_revoke(backend: Backend) -> None:
    keys = backend().keys
    assert await keys.get("k_1") is None
    await keys.put(RECORD)
    assert await backend().keys.get("k_1") == RECORD
    assert await keys.revoke("k_1")
    assert await backend().keys.get("k_1") == replace(RECORD, status="revoked")
    assert not await keys.revoke("k_missing")


async def test_expired_keys_are_gone(backend: Backend, clock: Clock) -> None:
    keys = backend().keys
    await keys.put(KeyRecord(key_id="k_2", key_hash="cd" * 32, tenant="acme", expires_at=T0 + 10))
    assert await keys.get("k_2") is not None
    clock.advance(10)
    assert await keys.get("k_2") is None


async def test_keys_are_listed_by_tenant_without_expired_ones(backend: Backend, clock: Clock) -> None:
    keys = backend().keys
    await keys.put(RECORD)
    rotated = replace(RECORD, key_id="k_0", key_hash="ef" * 32, expires_at=T0 + 5, replaced_by="k_1")
    await keys.put(rotated)
    await keys.put(replace(RECORD, key_id="k_9", tenant="other"))
    assert [r.key_id for r in await backend().keys.list_keys("acme")] == ["k_0", "k_1"]
    assert (await backend().keys.list_keys("acme"))[0] == rotated
    clock.advance(5)
    assert [r.key_id for r in await backend().keys.list_keys("acme")] == ["k_1"]
    assert await keys.list_keys("nobody") == []


async def test_tenants_put_get_and_list(backend: Backend) -> None:
    keys = backend().keys
    acme = TenantRecord(
        tenant="acme",
        name="Acme",
        created_at=T0,
        budgets={"monthly": Decimal("100.5")},
        guardrails=("pii",),
        require_signature=True,
    )
    beta = TenantRecord(tenant="beta", budgets={"daily": Decimal("1")}, metadata={"tier": "free"})
    assert await keys.get_tenant("acme") is None
    await keys.put_tenant(beta)
    await keys.put_tenant(acme)
    assert await backend().keys.get_tenant("acme") == acme
    assert await backend().keys.list_tenants() == [acme, beta]


# ------------------------------------------------------------------------------------ usage


def delta(**fields: Any) -> UsageDelta:
    base: dict[str, Any] = {"tenant": "acme", "key_id": "k_1", "model": "m", "day": "2027-01-15"}
    return UsageDelta(**{**base, **fields})


async def test_usage_adds_up_exactly(backend: Backend) -> None:
    usage = backend().usage
    await usage.add(delta(prompt_tokens=10, completion_tokens=5, cached_tokens=2, cost_usd=Decimal("0.1")))
    await backend().usage.add(delta(prompt_tokens=1, completion_tokens=1, cost_usd=Decimal("0.2")))
    assert await usage.totals("acme", "2027-01-15") == [
        delta(requests=2, prompt_tokens=11, completion_tokens=6, cached_tokens=2, cost_usd=Decimal("0.3"))
    ]


async def test_usage_adds_up_costs_too_small_for_plain_str(backend: Backend) -> None:
    # An embeddings call of 4 tokens at $0.02 per 1M: str() would write "8E-8".
    usage = backend().usage
    for _ in range(2):
        await usage.add(delta(prompt_tokens=4, cost_usd=Decimal("0.02") * 4 / 1_000_000))
    totals = await usage.totals("acme", "2027-01-15")
    assert totals == [delta(requests=2, prompt_tokens=8, cost_usd=Decimal("0.00000016"))]


async def test_usage_totals_are_per_tenant_and_day_and_sorted(backend: Backend) -> None:
    usage = backend().usage
    await usage.add(delta(key_id="k_2", model="b"))
    await usage.add(delta(key_id="k_1", model="z"))
    await usage.add(delta(key_id="k_1", model="a"))
    await usage.add(delta(tenant="other"))
    await usage.add(delta(day="2027-01-16"))
    totals = await usage.totals("acme", "2027-01-15")
    assert [(t.key_id, t.model) for t in totals] == [("k_1", "a"), ("k_1", "z"), ("k_2", "b")]


async def test_concurrent_usage_adds_lose_nothing(backend: Backend) -> None:
    instances = [backend().usage for _ in range(4)]
    await asyncio.gather(
        *(instances[i % 4].add(delta(prompt_tokens=1, cost_usd=Decimal("0.001"))) for i in range(40))
    )
    [total] = await backend().usage.totals("acme", "2027-01-15")
    assert (total.requests, total.prompt_tokens, total.cost_usd) == (40, 40, Decimal("0.040"))


async def test_usage_keeps_providers_apart_and_sums_every_counter(backend: Backend) -> None:
    usage = backend().usage
    await usage.add(delta(provider="a", errors=1, requests=1))
    await usage.add(delta(provider="a", cache_hits=1, saved_usd=Decimal("0.25")))
    await usage.add(delta(provider="b", fallbacks=1, cost_usd=Decimal("0.5")))
    a, b = await backend().usage.totals("acme", "2027-01-15")
    assert (a.provider, a.requests, a.errors, a.cache_hits, a.saved_usd) == ("a", 2, 1, 1, Decimal("0.25"))
    assert (b.provider, b.fallbacks, b.cost_usd) == ("b", 1, Decimal("0.5"))
