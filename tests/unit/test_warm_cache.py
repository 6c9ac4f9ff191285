"""The warm cache behind virtual keys, tenants and personas: trusted copies, degraded reads."""

from __future__ import annotations

import pytest

from statekit import Clock
from switchyard.state.ports import StateUnavailableError
from switchyard.state.warm import WarmCache


class Store:
    def __init__(self) -> None:
        self.records: dict[str, str] = {"a": "A"}
        self.reads = 0
        self.down = False

    async def get(self, key: str) -> str | None:
        self.reads += 1
        if self.down:
            raise StateUnavailableError("GetItem: ReadTimeoutError")
        return self.records.get(key)


def cache(store: Store, clock: Clock) -> WarmCache[str, str]:
    return WarmCache(store.get, what="thing", ttl_s=30, negative_ttl_s=5, clock=clock)


async def test_a_record_is_trusted_for_its_ttl_and_a_missing_one_for_the_shorter_one() -> None:
    store, clock = Store(), Clock(0)
    warm = cache(store, clock)
    assert (await warm.get("a"), await warm.get("b")) == ("A", None)
    store.records = {"a": "A2", "b": "B"}
    clock.advance(4.9)
    assert (await warm.get("a"), await warm.get("b"), store.reads) == ("A", None, 2)
    clock.advance(0.1)
    assert (await warm.get("a"), await warm.get("b"), store.reads) == ("A", "B", 3)
    clock.advance(25)
    assert (await warm.get("a"), store.reads) == ("A2", 4)


async def test_forget_reads_again_at_once() -> None:
    store, clock = Store(), Clock(0)
    warm = cache(store, clock)
    await warm.get("a")
    store.records["a"] = "A2"
    warm.forget("a")
    assert await warm.get("a") == "A2"


async def test_an_unreadable_store_serves_old_copies_and_refuses_what_was_never_seen() -> None:
    store, clock = Store(), Clock(0)
    warm = cache(store, clock)
    assert await warm.get("a") == "A"
    store.down = True
    clock.advance(3600)
    assert await warm.get("a") == "A"
    with pytest.raises(StateUnavailableError):
        await warm.get("b")
