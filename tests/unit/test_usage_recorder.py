"""Usage aggregates are summed in memory and written at most every flush interval (one write per
aggregate touched), everything left at drain; a failing ledger is counted, never raised."""

from __future__ import annotations

import asyncio
import threading

from statekit import T0, Clock
from switchyard.metrics.requests import RequestMetrics
from switchyard.state.memory import MemoryUsageLedger
from switchyard.state.ports import StateUnavailableError, UsageDelta
from switchyard.usage.recorder import UsageRecorder, day_of

DAY = day_of(T0)


class CountingLedger(MemoryUsageLedger):
    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.writes = 0
        self.fail = fail

    async def add(self, delta: UsageDelta) -> None:
        self.writes += 1
        if self.fail:
            raise StateUnavailableError("down")
        await super().add(delta)


async def test_deltas_are_summed_and_written_once_per_interval() -> None:
    clock, ledger = Clock(T0), CountingLedger()
    recorder = UsageRecorder(ledger, RequestMetrics(), flush_s=30, clock=clock)
    for _ in range(10):
        recorder.failed("m", "k_1", "acme")
    await recorder.drain()
    assert ledger.writes == 1
    [total] = await ledger.totals("acme", DAY)
    assert (total.requests, total.errors) == (10, 10)


async def test_the_interval_triggers_a_write_without_a_drain() -> None:
    clock, ledger = Clock(T0), CountingLedger()
    recorder = UsageRecorder(ledger, RequestMetrics(), flush_s=30, clock=clock)
    recorder.failed("m", "k_1", "acme")
    recorder.failed("n", "k_1", "acme")
    clock.advance(30)
    recorder.failed("m", "k_1", "acme")  # the interval has passed: all three go out now
    pending = list(recorder._pending)
    assert len(pending) == 1
    await pending[0]
    assert ledger.writes == 2  # two aggregates: m and n
    assert sum(t.requests for t in await ledger.totals("acme", DAY)) == 3


async def test_a_failing_ledger_is_counted_not_raised() -> None:
    ledger = CountingLedger(fail=True)
    recorder = UsageRecorder(ledger, RequestMetrics(), flush_s=0, clock=Clock(T0))
    recorder.failed("m", "k_1", "acme")
    await recorder.drain()
    assert recorder.failures == 1
    assert await ledger.totals("acme", DAY) == []  # the delta is dropped, not retried twice


def test_drain_returns_when_a_write_has_finished_but_its_callbacks_have_not_run() -> None:
    """The race CI met: on Python 3.13 gathering only finished tasks completes without yielding
    to the loop, so a drain that waited for the tasks' done callbacks to forget them spun forever.
    Run on its own loop in a thread, so that a regression fails here instead of hanging the run."""
    finished_first: list[bool] = []

    async def scenario() -> None:
        recorder = UsageRecorder(CountingLedger(), RequestMetrics(), flush_s=0, clock=Clock(T0))
        recorder.failed("m", "k_1", "acme")  # flush_s 0: the write starts now
        await asyncio.sleep(0)  # the write runs to its end; its done callback is queued after us
        finished_first.extend(task.done() for task in recorder._pending)
        await recorder.drain()

    worker = threading.Thread(target=lambda: asyncio.run(scenario()), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert finished_first == [True]  # the race was set up: a finished write still pending
    assert not worker.is_alive(), "drain spun on a finished write"


class SignallingLedger(CountingLedger):
    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    async def add(self, delta: UsageDelta) -> None:
        await super().add(delta)
        self.written.set()


async def test_a_timer_writes_the_buffer_when_no_request_comes() -> None:
    """A quiet gateway: nothing after the answer, and its usage is written anyway."""
    ledger = SignallingLedger()
    recorder = UsageRecorder(
        ledger, RequestMetrics(), flush_s=0.05, clock=Clock(T0)
    )  # the test's clock stands still
    recorder.failed("m", "k_1", "acme")
    await asyncio.wait_for(ledger.written.wait(), timeout=30)
    assert [t.requests for t in await ledger.totals("acme", DAY)] == [1]


async def test_the_timer_waits_for_the_interval() -> None:
    ledger = CountingLedger()
    recorder = UsageRecorder(ledger, RequestMetrics(), flush_s=3600, clock=Clock(T0))
    recorder.failed("m", "k_1", "acme")
    for _ in range(10):
        await asyncio.sleep(0)
    assert ledger.writes == 0
    await recorder.drain()  # shutdown writes it, and no timer is left behind
    assert ledger.writes == 1 and recorder._timer is None


async def test_a_request_finding_the_buffer_older_than_the_interval_writes_it() -> None:
    """A Lambda instance frozen with usage in hand: the next request's arrival writes it."""
    clock, ledger = Clock(T0), CountingLedger()
    recorder = UsageRecorder(ledger, RequestMetrics(), flush_s=30, clock=clock)
    recorder.failed("m", "k_1", "acme")
    clock.advance(29)
    recorder.flush_if_due()
    assert not recorder._pending  # not yet 30 s old
    clock.advance(1)
    recorder.flush_if_due()
    await asyncio.gather(*recorder._pending)
    assert ledger.writes == 1
