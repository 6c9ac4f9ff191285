"""switchyard.state.degrading and switchyard.metrics.sink: fallbacks, reporting, publishing."""

from __future__ import annotations

import logging

import pytest

from statekit import Clock
from switchyard.errors import GatewayError
from switchyard.metrics.sink import MetricSink
from switchyard.state.degrading import Degradation, DegradingLimitStore, DegradingResponseCache
from switchyard.state.memory import MemoryLimitStore, MemoryResponseCache
from switchyard.state.ports import MINUTE, StateUnavailableError, WindowCharge


class Down(MemoryResponseCache):
    """A primary that fails while ``down`` and counts the calls it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        if self.down:
            raise StateUnavailableError("DynamoDB GetItem: ThrottlingException")
        return await super().get(key)


class DownLimits(MemoryLimitStore):
    async def charge(self, scope: str, charges: object) -> object:  # type: ignore[override]
        raise StateUnavailableError("DynamoDB UpdateItem: ReadTimeoutError")


def sink() -> tuple[MetricSink, list[dict[str, int]]]:
    published: list[dict[str, int]] = []
    return MetricSink(publish=published.append, interval_s=60, clock=Clock(0)), published


async def test_a_failing_primary_is_rested_then_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    monotonic = Clock(0)
    metrics, _ = sink()
    degradation = Degradation(
        "cache", "StateDegradedCache", metrics, retry_s=5, log_interval_s=60, clock=monotonic
    )
    primary, fallback = Down(), MemoryResponseCache()
    await fallback.put("k", b"local", expires_at=float("inf"))
    cache = DegradingResponseCache(primary, fallback, degradation)

    assert await cache.get("k") == b"local"
    assert degradation.degraded and primary.calls == 1
    monotonic.advance(4)
    assert await cache.get("k") == b"local"
    assert primary.calls == 1  # resting: straight to the fallback
    monotonic.advance(1)
    primary.down = False
    assert await cache.get("k") is None  # the primary answers again (it has no entry)
    assert not degradation.degraded and primary.calls == 2
    assert metrics.totals() == {"StateDegradedCache": 2}
    warnings = [r for r in caplog.records if r.getMessage().startswith("shared state unavailable")]
    assert len(warnings) == 1 and warnings[0].__dict__["component"] == "cache"


async def test_degradations_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    monotonic = Clock(0)
    metrics, _ = sink()
    degradation = Degradation(
        "cache", "StateDegradedCache", metrics, retry_s=0, log_interval_s=60, clock=monotonic
    )
    cache = DegradingResponseCache(Down(), MemoryResponseCache(), degradation)
    for _ in range(10):
        await cache.get("k")
        monotonic.advance(1)
    monotonic.advance(60)
    await cache.get("k")
    warnings = [r.__dict__ for r in caplog.records if r.getMessage().startswith("shared state unavailable")]
    assert [w["degraded_calls"] for w in warnings] == [1, 10]


async def test_limits_fail_open_or_closed() -> None:
    metrics, _ = sink()
    charge = [WindowCharge(MINUTE, 0, 1, 0, 10, None)]
    open_ = DegradingLimitStore(DownLimits(), MemoryLimitStore(), Degradation("limits", "L", metrics))
    assert (await open_.charge("key#k", charge)).applied
    closed = DegradingLimitStore(
        DownLimits(),
        MemoryLimitStore(),
        Degradation("limits", "L", metrics),
        fail_closed=True,
        retry_after_s=5,
    )
    with pytest.raises(GatewayError) as refused:
        await closed.charge("key#k", charge)
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (
        503,
        "limits_unavailable",
        5,
    )


def test_metrics_are_published_at_most_once_per_interval_and_at_close() -> None:
    clock = Clock(0)
    published: list[dict[str, int]] = []
    metrics = MetricSink(publish=published.append, interval_s=60, clock=clock)
    metrics.count("A")
    metrics.count("A")
    clock.advance(59)
    metrics.count("B")
    assert published == []
    clock.advance(1)
    metrics.count("B")
    assert published == [{"A": 2, "B": 2}]
    metrics.flush()  # nothing pending: nothing published (an empty EMF flush only warns)
    metrics.count("C", 3)
    metrics.close()
    assert published == [{"A": 2, "B": 2}, {"C": 3}]
    assert metrics.totals() == {"A": 2, "B": 2, "C": 3}


def test_emf_goes_out_through_powertools(capsys: pytest.CaptureFixture[str]) -> None:
    MetricSink(namespace="SwitchyardTest", service="switchyard").close()  # nothing counted: silent
    metrics = MetricSink(namespace="SwitchyardTest", service="switchyard")
    metrics.count("StateDegradedLimits", 2)
    metrics.close()
    out = capsys.readouterr().out
    assert '"Namespace":"SwitchyardTest"' in out and '"StateDegradedLimits":[2.0]' in out
