"""switchyard.cache: key normalization, the per-request policy, and the service on memory."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from statekit import T0, Clock
from switchyard.api.chat import ChatRequest
from switchyard.cache.keys import cache_key
from switchyard.cache.policy import SKIP, CachePlan, plan_for
from switchyard.cache.service import CachedAnswer, CacheService
from switchyard.errors import InvalidRequestError
from switchyard.metrics import CACHE_ENTRY_TOO_LARGE, CACHE_HIT, CACHE_MISS, CACHE_PURGED
from switchyard.metrics.sink import MetricSink
from switchyard.state.memory import MemoryResponseCache

MESSAGES = [{"role": "user", "content": "Hello"}]


def req(**fields: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": MESSAGES, **fields})


def key(**fields: Any) -> str:
    return cache_key(req(**fields), "k_tenant")


# ------------------------------------------------------------------------------------ keys


def test_keys_ignore_what_cannot_change_the_answer() -> None:
    base = key(temperature=0)
    assert key(temperature=0, user="u1", metadata={"a": "b"}) == base
    assert key(temperature=0, cache={"ttl": 5, "no-store": True}) == base
    assert key(temperature=0, stream=True, stream_options={"include_usage": True}) == base
    assert key(temperature=0, n=1) == base
    assert len(base) == 64 and int(base, 16) >= 0


def test_keys_do_not_depend_on_the_order_of_json_keys() -> None:
    a = {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "number"}}}
    b = {"properties": {"y": {"type": "number"}, "x": {"type": "string"}}, "type": "object"}
    tool = {"type": "function", "function": {"name": "f"}}
    assert key(tools=[{**tool, "function": {"name": "f", "parameters": a}}]) == key(
        tools=[{**tool, "function": {"name": "f", "parameters": b}}]
    )


@pytest.mark.parametrize(
    "other",
    [
        {"temperature": 0.5},
        {"model": "other"},
        {"messages": [{"role": "user", "content": "Hello!"}]},
        {"max_tokens": 10},
        {"seed": 1},
        {"reasoning_effort": "low"},  # unknown fields reach the upstream, so they count
    ],
)
def test_keys_change_with_anything_that_can_change_the_answer(other: dict[str, Any]) -> None:
    assert key(temperature=0) != key(**{"temperature": 0, **other})


def test_keys_are_per_tenant() -> None:
    assert cache_key(req(seed=1), "k_a") != cache_key(req(seed=1), "k_b")


# ------------------------------------------------------------------------------------ policy


def plan(headers: dict[str, str] | None = None, **fields: Any) -> CachePlan:
    return plan_for(req(**fields), "k_tenant", headers or {}, default_ttl_s=3600)


def test_deterministic_requests_use_the_cache_by_default() -> None:
    for fields in ({"temperature": 0}, {"seed": 7}, {"temperature": 0.9, "seed": 7}):
        chosen = plan(**fields)
        assert (chosen.lookup, chosen.store, chosen.ttl_s) == (True, True, 3600)
        assert chosen.key == cache_key(req(**fields), "k_tenant")
    assert plan() == SKIP
    assert plan(temperature=0.2) == SKIP
    # A stream uses the same entry as the buffered request (replayed as a stream on a hit).
    assert plan(temperature=0, stream=True).key == plan(temperature=0).key is not None


def test_an_explicit_ttl_opts_in_and_sets_the_lifetime() -> None:
    assert (plan({"x-switchyard-cache-ttl": "60"}).ttl_s, plan(cache={"ttl": 90}).ttl_s) == (60, 90)
    assert plan({"x-switchyard-cache-ttl": "60"}, cache={"ttl": 90}).ttl_s == 90  # the body wins
    no_store = plan(cache={"ttl": 0})
    assert (no_store.lookup, no_store.store) == (True, False)


@pytest.mark.parametrize(
    ("headers", "body", "lookup", "store"),
    [
        ({"x-switchyard-cache": "no-cache"}, None, False, True),
        ({"x-switchyard-cache": "no-store"}, None, True, False),
        (None, {"no-cache": True}, False, True),
        (None, {"no-store": True}, True, False),
        ({"x-switchyard-cache": "no-cache, no-store"}, None, None, None),
        ({"x-switchyard-cache": "No-Store"}, {"no-cache": True}, None, None),
    ],
)
def test_no_cache_and_no_store(
    headers: dict[str, str] | None, body: dict[str, bool] | None, lookup: bool | None, store: bool | None
) -> None:
    chosen = plan(headers, temperature=0, **({"cache": body} if body else {}))
    if lookup is None:
        assert chosen == SKIP
    else:
        assert (chosen.lookup, chosen.store) == (lookup, store)


@pytest.mark.parametrize("value", ["soon", "-1", "2592001", "1.5"])
def test_a_malformed_ttl_header_is_a_400(value: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        plan({"x-switchyard-cache-ttl": value})
    assert caught.value.param == "x-switchyard-cache-ttl"


# ------------------------------------------------------------------------------------ service


async def test_the_service_stores_compressed_answers_and_counts_hits_and_misses() -> None:
    clock, metrics = Clock(), MetricSink(publish=lambda counts: None)
    store = MemoryResponseCache(clock=clock)
    service = CacheService(store, metrics, default_ttl_s=60, clock=clock)
    chosen = service.plan(req(temperature=0), key_id="k_tenant", tenant="t", headers={})
    assert await service.lookup(chosen) is None
    body = b'{"id": "x", "choices": [' + b'{"text": "same words again"},' * 200 + b"{}]}"
    answer = CachedAnswer(body, "prov", "up-model", "prov/up-model")
    assert await service.save(chosen, answer)
    assert chosen.key is not None
    stored = await store.get(chosen.key)
    assert stored is not None and len(stored) < len(body) / 5
    assert await service.lookup(chosen) == replace(answer, stored_at=chosen.at)
    clock.advance(60)
    assert await service.lookup(chosen) is None
    assert metrics.totals() == {CACHE_MISS: 2, CACHE_HIT: 1}


async def test_answers_too_large_for_an_item_are_skipped_and_counted() -> None:
    metrics = MetricSink(publish=lambda counts: None)
    store = MemoryResponseCache(max_value_bytes=1000, clock=Clock())
    service = CacheService(store, metrics, clock=Clock())
    chosen = service.plan(req(temperature=0), key_id="k_tenant", tenant="t", headers={})
    incompressible = random.Random(0).randbytes(4000)
    assert not await service.save(chosen, CachedAnswer(incompressible, "p", "m", "p/m"))
    assert await service.lookup(chosen) is None
    assert metrics.totals()[CACHE_ENTRY_TOO_LARGE] == 1


async def test_disabled_or_unreadable_caches_answer_nothing() -> None:
    clock = Clock(T0)
    store = MemoryResponseCache(clock=clock)
    off = CacheService(store, MetricSink(publish=lambda counts: None), enabled=False)
    assert off.plan(req(temperature=0), key_id="k", tenant="t", headers={}) == SKIP
    service = CacheService(store, MetricSink(publish=lambda counts: None), clock=clock)
    chosen = service.plan(req(temperature=0), key_id="k", tenant="t", headers={})
    assert chosen.key is not None
    await store.put(chosen.key, b"not zlib", expires_at=T0 + 60)
    assert await service.lookup(chosen) is None


# ------------------------------------------------------------------------------------ purges


async def test_a_purge_makes_older_entries_of_its_scope_stale_and_nothing_else() -> None:
    clock, metrics = Clock(T0), MetricSink(publish=lambda counts: None)
    store = MemoryResponseCache(clock=clock)
    service = CacheService(store, metrics, purge_refresh_s=5, clock=clock)

    def planned(key_id: str, tenant: str, model: str = "m") -> CachePlan:
        return service.plan(req(temperature=0, model=model), key_id=key_id, tenant=tenant, headers={})

    plans = {
        "a": planned("k_a", "acme"),
        "b": planned("k_b", "acme"),
        "c": planned("k_c", "other"),
        "n": planned("k_c", "other", "n"),
    }
    for chosen in plans.values():
        assert await service.save(chosen, CachedAnswer(b"{}", "p", "m", "p/m"))
    clock.advance(1)

    async def hits() -> set[str]:
        return {name for name, chosen in plans.items() if await service.lookup(chosen) is not None}

    assert await hits() == {"a", "b", "c", "n"}
    await service.purge(["key#k_a"])
    assert await hits() == {"b", "c", "n"}
    await service.purge(["model#n"])
    assert await hits() == {"b", "c"}
    await service.purge(["tenant#acme"])
    assert await hits() == {"c"}
    # An answer to a request that began after the purge is fresh again.
    clock.advance(1)
    plans["a"] = planned("k_a", "acme")
    await service.save(plans["a"], CachedAnswer(b"{}", "p", "m", "p/m"))
    assert await hits() == {"a", "c"}
    await service.purge(["all"])
    assert await hits() == set()
    assert metrics.totals()[CACHE_PURGED] == 1 + 2 + 3 + 2 + 4  # the stale entries each hits() met


async def test_another_container_sees_a_purge_within_its_refresh_period() -> None:
    clock = Clock(T0)
    store = MemoryResponseCache(clock=clock)
    one, other = (
        CacheService(store, MetricSink(publish=lambda counts: None), purge_refresh_s=5, clock=clock)
        for _ in range(2)
    )
    chosen = one.plan(req(temperature=0), key_id="k", tenant="t", headers={})
    await one.save(chosen, CachedAnswer(b"{}", "p", "m", "p/m"))
    clock.advance(1)
    assert await other.lookup(chosen) is not None  # reads the (empty) markers: fresh for 5 s
    await one.purge(["key#k"])
    assert await one.lookup(chosen) is None  # the purging container at once
    assert await other.lookup(chosen) is not None  # the other one's copy is still fresh
    clock.advance(5)
    assert await other.lookup(chosen) is None


async def test_markers_only_move_forward_and_old_ones_are_forgotten() -> None:
    store = MemoryResponseCache(clock=Clock(T0))
    await store.purge("key#k", T0 + 10, forget_before=0)
    await store.purge("key#k", T0 + 5, forget_before=0)
    await store.purge("model#m", T0 + 20, forget_before=T0 + 11)  # forgets key#k (older than that)
    assert await store.purges() == {"model#m": T0 + 20}


async def test_entries_kept_past_their_ttl_are_stale_answers_never_hits() -> None:
    clock = Clock(T0)
    service = CacheService(
        MemoryResponseCache(clock=clock),
        MetricSink(publish=lambda counts: None),
        default_ttl_s=60,
        stale_keep_s=3600,
        clock=clock,
    )
    chosen = service.plan(req(temperature=0), key_id="k", tenant="t", headers={})
    answer = CachedAnswer(b'{"id": "x"}', "p", "m", "p/m")
    assert await service.save(chosen, answer)
    streamed = req(temperature=0, stream=True)  # a stream asks for the same answer
    fresh = await service.stale(streamed, key_id="k", tenant="t", max_stale_s=0)
    assert fresh is not None and (fresh.answer.body, fresh.answer.provider, fresh.stale_s) == (
        answer.body,
        "p",
        0,
    )
    clock.advance(60 + 600)
    assert await service.lookup(chosen) is None
    assert (
        await service.stale(streamed, key_id="k", tenant="t", max_stale_s=599) is None
    )  # older than allowed
    kept = await service.stale(streamed, key_id="k", tenant="t", max_stale_s=600)
    assert kept is not None and (kept.answer.body, kept.stale_s) == (answer.body, 600)
    assert await service.stale(streamed, key_id="another key", tenant="t", max_stale_s=600) is None
    # A purge reaches the kept entries too: a purged answer is never served, fresh or stale.
    await service.purge(["model#m"])
    assert await service.stale(streamed, key_id="k", tenant="t", max_stale_s=600) is None
    clock.advance(3000)
    assert await service.stale(streamed, key_id="k", tenant="t", max_stale_s=86400) is None  # no longer kept


async def test_without_a_stale_keep_entries_go_at_their_ttl() -> None:
    clock = Clock(T0)
    service = CacheService(
        MemoryResponseCache(clock=clock),
        MetricSink(publish=lambda counts: None),
        default_ttl_s=60,
        clock=clock,
    )
    chosen = service.plan(req(temperature=0), key_id="k", tenant="t", headers={})
    assert await service.save(chosen, CachedAnswer(b"{}", "p", "m", "p/m"))
    clock.advance(60)
    assert await service.stale(req(temperature=0), key_id="k", tenant="t", max_stale_s=86400) is None


async def test_a_stale_lookup_on_an_unreachable_store_finds_nothing_instead_of_failing() -> None:
    from switchyard.state.ports import KeptValue, StateUnavailableError

    class Down(MemoryResponseCache):
        async def get_kept(self, key: str) -> KeptValue | None:
            raise StateUnavailableError("DynamoDB GetItem: EndpointConnectionError")

    service = CacheService(Down(), MetricSink(publish=lambda counts: None), stale_keep_s=60)
    assert await service.stale(req(temperature=0), key_id="k", tenant="t", max_stale_s=60) is None
