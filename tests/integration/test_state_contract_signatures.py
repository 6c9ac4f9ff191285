"""The ``SeenSignatures`` contract over the memory adapter and the DynamoDB one on moto (the
table of template.yaml): a signature is new once per key until it expires, one of several
concurrent writers wins, and the degrading wrapper serves from memory while the table is down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from statekit import T0, Clock, instances
from switchyard.metrics import STATE_DEGRADED_SIGNATURES
from switchyard.metrics.sink import MetricSink
from switchyard.state.degrading import Degradation
from switchyard.state.dynamodb_signatures import DynamoSeenSignatures
from switchyard.state.ports import StateUnavailableError
from switchyard.state.signatures import DegradingSeenSignatures, MemorySeenSignatures, SeenSignatures

Backend = Callable[[], SeenSignatures]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Backend]:
    """Each call: one instance's view of the shared record."""
    yield from instances(
        request,
        lambda: MemorySeenSignatures(clock=clock),
        lambda table: DynamoSeenSignatures(table, clock=clock),
    )


async def test_a_signature_is_new_once_per_scope(backend: Backend) -> None:
    assert await backend().first_seen("k_1", "ab12", expires_at=T0 + 300)
    assert not await backend().first_seen("k_1", "ab12", expires_at=T0 + 300)
    assert await backend().first_seen("k_2", "ab12", expires_at=T0 + 300)  # another key's
    assert await backend().first_seen("k_1", "cd34", expires_at=T0 + 300)


async def test_an_expired_record_counts_as_absent(backend: Backend, clock: Clock) -> None:
    assert await backend().first_seen("k_1", "ef56", expires_at=T0 + 300)
    clock.advance(302)  # TTL deletion lags: the item may still be there
    assert await backend().first_seen("k_1", "ef56", expires_at=T0 + 602)
    assert not await backend().first_seen("k_1", "ef56", expires_at=T0 + 602)


async def test_of_concurrent_writers_exactly_one_wins(backend: Backend) -> None:
    instances = [backend() for _ in range(4)]
    results = await asyncio.gather(*(i.first_seen("k_1", "race", expires_at=T0 + 300) for i in instances))
    assert sorted(results) == [False, False, False, True]


async def test_while_the_table_is_down_each_instance_remembers_its_own(clock: Clock) -> None:
    class Down:
        calls = 0

        async def first_seen(self, scope: str, signature: str, *, expires_at: float) -> bool:
            self.calls += 1
            raise StateUnavailableError("DynamoDB PutItem: unreachable")

    metrics = MetricSink(publish=lambda counts: None)
    down = Down()
    degraded = DegradingSeenSignatures(
        down, MemorySeenSignatures(clock=clock), Degradation("signatures", STATE_DEGRADED_SIGNATURES, metrics)
    )
    assert await degraded.first_seen("k_1", "ab", expires_at=T0 + 300)
    assert not await degraded.first_seen("k_1", "ab", expires_at=T0 + 300)  # a replay to this instance
    assert down.calls == 1  # resting after the failure: no timeout per request
    assert metrics.totals()[STATE_DEGRADED_SIGNATURES] == 2
