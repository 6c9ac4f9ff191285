"""Breaker state machine and its compare-and-set application."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.config.routing import BreakerConfig
from switchyard.routing.breaker import Admission, Breakers, after_failure, after_success, decide
from switchyard.state.memory import MemoryBreakerStore
from switchyard.state.ports import BreakerRecord, BreakerStatus

CFG = BreakerConfig(failure_threshold=5, window_s=30, cooldown_s=30)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_defaults_are_five_failures_in_thirty_seconds() -> None:
    cfg = BreakerConfig()
    assert (cfg.failure_threshold, cfg.window_s, cfg.cooldown_s) == (5, 30, 30)


def test_closed_allows_without_a_write() -> None:
    assert decide(BreakerRecord(), 0, CFG) == (Admission.ALLOW, None)


def test_opens_on_the_fifth_failure_within_the_window() -> None:
    rec = BreakerRecord()
    for i in range(4):
        new = after_failure(rec, 100 + i, CFG)
        assert new is not None and new.status is BreakerStatus.CLOSED
        rec = new
    opened = after_failure(rec, 104, CFG)
    assert opened is not None and opened.status is BreakerStatus.OPEN and opened.opened_at == 104


def test_failures_outside_the_window_start_a_new_count() -> None:
    rec = BreakerRecord()
    for t in (100, 101, 102, 103):
        new = after_failure(rec, t, CFG)
        assert new is not None
        rec = new
    later = after_failure(rec, 140, CFG)  # window started at 100, 40 s ago
    assert later is not None and later.status is BreakerStatus.CLOSED and later.failures == 1


def test_open_skips_until_cooldown_then_offers_one_probe() -> None:
    rec = BreakerRecord(status=BreakerStatus.OPEN, opened_at=100, version=3)
    assert decide(rec, 129.9, CFG) == (Admission.SKIP, None)
    admission, probe = decide(rec, 130, CFG)
    assert admission is Admission.PROBE
    assert probe is not None and probe.status is BreakerStatus.HALF_OPEN and probe.version == 4


def test_half_open_skips_others_while_probe_runs_and_recovers_a_lost_probe() -> None:
    rec = BreakerRecord(status=BreakerStatus.HALF_OPEN, probe_started=200)
    assert decide(rec, 210, CFG)[0] is Admission.SKIP
    assert decide(rec, 231, CFG)[0] is Admission.PROBE


def test_probe_success_closes_and_probe_failure_reopens() -> None:
    half = BreakerRecord(status=BreakerStatus.HALF_OPEN, probe_started=200, version=7)
    closed = after_success(half)
    assert closed is not None and closed.status is BreakerStatus.CLOSED and closed.version == 8
    reopened = after_failure(half, 201, CFG)
    assert reopened is not None and reopened.status is BreakerStatus.OPEN and reopened.opened_at == 201


def test_success_when_closed_writes_nothing() -> None:
    assert after_success(BreakerRecord(failures=3)) is None


def test_parked_deployment_is_skipped_until_reset() -> None:
    rec = BreakerRecord(parked_until=500)
    assert decide(rec, 499, CFG)[0] is Admission.SKIP
    assert decide(rec, 501, CFG)[0] is Admission.ALLOW


async def test_breakers_open_after_threshold_and_probe_once() -> None:
    clock = Clock()
    breakers = Breakers(MemoryBreakerStore(), BreakerConfig(failure_threshold=2, cooldown_s=10), clock)
    await breakers.failure("d")
    assert await breakers.admit("d") is Admission.ALLOW
    await breakers.failure("d")
    assert await breakers.admit("d") is Admission.SKIP
    assert await breakers.summary() == {"d": "open"}
    assert await breakers.retry_after(["d"]) == pytest.approx(10)
    clock.now += 10
    assert await breakers.admit("d") is Admission.PROBE
    assert await breakers.admit("d") is Admission.SKIP  # only one probe
    await breakers.success("d")
    assert await breakers.admit("d") is Admission.ALLOW


async def test_concurrent_admissions_give_exactly_one_probe() -> None:
    """Two instances sharing a store: compare-and-set lets only one of them probe."""
    clock = Clock()
    store = MemoryBreakerStore()
    cfg = BreakerConfig(failure_threshold=1, cooldown_s=5)
    a, b = Breakers(store, cfg, clock), Breakers(store, cfg, clock)
    await a.failure("d")
    clock.now += 6
    results = await asyncio.gather(*(x.admit("d") for x in (a, b, a, b)))
    assert results.count(Admission.PROBE) == 1
    assert results.count(Admission.SKIP) == 3


async def test_stale_write_is_refused_by_the_store() -> None:
    store = MemoryBreakerStore()
    assert await store.save("d", BreakerRecord(version=1), expected_version=0)
    assert not await store.save("d", BreakerRecord(version=1), expected_version=0)


async def test_park_keeps_deployment_out_without_opening() -> None:
    clock = Clock()
    breakers = Breakers(MemoryBreakerStore(), CFG, clock)
    await breakers.park("d", 60)
    assert await breakers.admit("d") is Admission.SKIP
    assert await breakers.summary() == {"d": "parked"}
    clock.now += 61
    assert await breakers.admit("d") is Admission.ALLOW
