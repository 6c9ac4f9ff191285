"""What only the DynamoDB adapters do, beyond the port contracts: item copies that save calls
(refresh interval, piggybacked breakers, one read for a burst), TTL-expired items, the call
counter, and error translation at the boundary."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from statekit import T0, Clock, dynamo_stores
from switchyard.state.dynamodb import CallCounter, DynamoSettings, Table, build_client
from switchyard.state.ports import (
    MINUTE,
    BreakerRecord,
    BreakerStatus,
    StateUnavailableError,
    WindowCharge,
    WindowCount,
    deployment_scope,
)

OPEN = BreakerRecord(status=BreakerStatus.OPEN, opened_at=T0, window_start=T0, version=1)


async def test_a_breaker_copy_is_reused_within_the_refresh_interval(state_tables: Any) -> None:
    clock = Clock()
    with dynamo_stores(state_tables, clock, refresh_s=2) as mine, dynamo_stores(state_tables, clock) as other:
        assert await mine.state.load("d") == BreakerRecord()
        assert await other.state.save("d", OPEN, expected_version=0)
        mine.calls.reset()
        clock.advance(1.9)
        assert await mine.state.load("d") == BreakerRecord()  # stale, but within the interval
        assert mine.calls.total == 0
        clock.advance(0.1)
        assert await mine.state.load("d") == OPEN
        assert mine.calls.by_operation() == {"GetItem": 1}


async def test_a_lease_on_a_deployment_refreshes_its_breaker_copy(state_tables: Any) -> None:
    clock = Clock()
    with (
        dynamo_stores(state_tables, clock, refresh_s=60) as mine,
        dynamo_stores(state_tables, clock) as other,
    ):
        assert await mine.state.load("d") == BreakerRecord()
        assert await other.state.save("d", OPEN, expected_version=0)
        charged = await mine.state.charge(deployment_scope("d"), [WindowCharge(MINUTE, int(T0), 5, 0, 100)])
        assert charged.applied
        mine.calls.reset()
        assert await mine.state.load("d") == OPEN  # came back with the lease: no read
        assert mine.calls.total == 0


async def test_a_burst_on_a_stale_copy_reads_the_item_once(state_tables: Any) -> None:
    clock = Clock()
    with dynamo_stores(state_tables, clock, refresh_s=2) as mine:
        records = await asyncio.gather(*(mine.state.load("d") for _ in range(20)))
        assert set(records) == {BreakerRecord()}
        assert mine.calls.by_operation() == {"GetItem": 1}


async def test_a_lost_compare_and_set_brings_the_winner_back_without_a_read(state_tables: Any) -> None:
    clock = Clock()
    with (
        dynamo_stores(state_tables, clock, refresh_s=60) as mine,
        dynamo_stores(state_tables, clock) as other,
    ):
        assert await mine.state.load("d") == await other.state.load("d")
        assert await other.state.save("d", OPEN, expected_version=0)
        mine.calls.reset()
        assert not await mine.state.save("d", BreakerRecord(failures=1, version=1), expected_version=0)
        assert await mine.state.load("d") == OPEN
        assert mine.calls.by_operation() == {"UpdateItem": 1}


async def test_a_window_guessed_wrong_costs_one_more_update(state_tables: Any) -> None:
    clock = Clock()
    charge = [WindowCharge(MINUTE, int(T0), 1, 10, 100, 1000)]
    with dynamo_stores(state_tables, clock) as mine, dynamo_stores(state_tables, clock) as other:
        assert (await other.state.charge("key#k", charge)).applied
        # mine has no copy: it guesses a fresh window, fails, learns the count, adds to it.
        result = await mine.state.charge("key#k", charge)
        assert result.applied and result.state.windows[MINUTE] == WindowCount(int(T0), 2, 20)
        assert mine.calls.by_operation() == {"UpdateItem": 2}
        mine.calls.reset()
        assert (await mine.state.charge("key#k", charge)).applied
        assert mine.calls.by_operation() == {"UpdateItem": 1}


async def test_expired_items_read_as_empty_but_keep_their_versions(state_tables: Any) -> None:
    clock = Clock()
    with dynamo_stores(state_tables, clock) as stores:
        assert await stores.state.save("d", OPEN, expected_version=0)
        clock.advance(8 * 86400)  # past the item's TTL; DynamoDB may not have deleted it yet
        assert await stores.state.load("d") == BreakerRecord(version=1)
        assert await stores.state.save("d", BreakerRecord(version=2), expected_version=1)


async def test_unreachable_dynamodb_is_state_unavailable(moto_endpoint: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    calls = CallCounter()
    client = build_client(DynamoSettings(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1), calls)
    try:
        with pytest.raises(StateUnavailableError, match="EndpointConnectionError"):
            await Table(client, "t").get({"pk": {"S": "x"}})
        missing = Table(
            build_client(DynamoSettings(endpoint_url=moto_endpoint, max_attempts=1)), "no-such-table"
        )
        try:
            with pytest.raises(StateUnavailableError, match="ResourceNotFoundException"):
                await missing.get({"pk": {"S": "x"}})
        finally:
            missing.client.close()
    finally:
        client.close()
    assert calls.by_operation() == {"GetItem": 1}


async def test_an_item_deleted_by_ttl_starts_over(state_tables: Any) -> None:
    from switchyard.local.aws import client as aws_client

    clock = Clock()
    with dynamo_stores(state_tables, clock, refresh_s=60) as stores:
        assert await stores.state.save("d", OPEN, expected_version=0)
        raw = aws_client("dynamodb", state_tables.endpoint)
        try:
            key = {"pk": {"S": deployment_scope("d")}, "sk": {"S": "state"}}
            raw.delete_item(TableName=state_tables.tables["StateTable"], Key=key)
        finally:
            raw.close()
        closed = BreakerRecord(version=2)
        assert not await stores.state.save("d", closed, expected_version=1)  # learns it is gone
        assert await stores.state.load("d") == BreakerRecord()
        assert await stores.state.save("d", BreakerRecord(version=1), expected_version=0)


async def test_a_purge_costs_one_read_and_one_write_and_never_forgets_a_renewed_marker(
    state_tables: Any,
) -> None:
    """Forgetting a marker is conditional on it being as old as when it was read: a purge that
    renewed it in between keeps it (the write is retried without forgetting)."""
    with dynamo_stores(state_tables, Clock()) as one, dynamo_stores(state_tables, Clock()) as other:
        await one.cache.purge("tenant#old", T0, forget_before=0)
        one.calls.reset()
        await one.cache.purge("key#k", T0 + 100, forget_before=T0 + 50)  # forgets tenant#old
        assert one.calls.by_operation() == {"GetItem": 1, "UpdateItem": 1}
        assert await other.cache.purges() == {"key#k": T0 + 100}

        await one.cache.purge("tenant#old", T0, forget_before=0)
        read = one.cache.purges

        async def read_then_renewed() -> dict[str, float]:
            seen = await read()  # tenant#old at T0: to be forgotten ...
            await other.cache.purge("tenant#old", T0 + 60, forget_before=0)  # ... renewed meanwhile
            return seen

        one.cache.purges = read_then_renewed  # type: ignore[method-assign]
        await one.cache.purge("model#m", T0 + 110, forget_before=T0 + 50)
        assert await other.cache.purges() == {"key#k": T0 + 100, "tenant#old": T0 + 60, "model#m": T0 + 110}
