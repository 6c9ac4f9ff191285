"""Four router instances, one table: limits and breakers hold across instances.

Each instance is a whole app (its own gateway, boto3 client, leases and item copies) on the same
moto table from template.yaml, sharing one frozen clock so that no window rolls over mid-test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, dep

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.keys.ids import key_id
from switchyard.local.aws import client as aws_client

INSTANCES = 4
REQUESTS = 200
LIMIT = 50
LEASE = 5  # lease_fraction 0.1 of 50


def routing(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    config = fake.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a"), dep("b", "up-b")]}},
        **extra,
    )
    return {**config, "limits": {"default": {"rpm": LIMIT}, "lease_fraction": LEASE / LIMIT}}


async def instances(gateway: GatewayFactory, config: dict[str, Any], state: dict[str, Any], clock: Clock):
    return [await gateway(config, settings_extra=state, clock=clock) for _ in range(INSTANCES)]


async def burst(clients: list[httpx.AsyncClient], count: int) -> list[httpx.Response]:
    body = {"model": "m", "messages": MESSAGES}
    return await asyncio.gather(
        *(clients[i % len(clients)].post("/v1/chat/completions", json=body) for i in range(count))
    )


async def one_at_a_time(clients: list[httpx.AsyncClient], each: int) -> list[httpx.Response]:
    """Like Lambda: every instance serves one request at a time, all instances at once."""
    body = {"model": "m", "messages": MESSAGES}

    async def serve(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v1/chat/completions", json=body) for _ in range(each)]

    return [r for rs in await asyncio.gather(*(serve(c) for c in clients)) for r in rs]


async def aws_calls(clients: list[httpx.AsyncClient]) -> int:
    total = 0
    for client in clients:
        total += (await client.get("/health/ready")).json()["state"]["aws_calls"]
    return total


async def test_a_key_limit_holds_across_instances(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state_tables: Any
) -> None:
    clock = Clock(T0 + 10)
    clients = await instances(gateway, routing(fake_upstream), dynamo_settings(state_tables), clock)
    responses = await burst(clients, REQUESTS)
    statuses = [r.status_code for r in responses]
    admitted = statuses.count(200)
    assert statuses.count(429) == REQUESTS - admitted
    # The documented bound (docs/state.md): never more than the limit in a window, and at most
    # instances x (lease - 1) left unspent in other instances' leases.
    assert LIMIT - INSTANCES * (LEASE - 1) <= admitted <= LIMIT
    assert fake_upstream.count() == admitted
    counted = _minute_requests(state_tables, key_id_of_master())
    assert admitted <= counted <= LIMIT
    # Leases, not a call per request.
    assert await aws_calls(clients) < REQUESTS / 2


async def test_instances_on_memory_state_do_not_share_a_limit(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    """The control: without the shared table each instance allows the whole limit."""
    clients = await instances(gateway, routing(fake_upstream), {}, Clock(T0 + 10))
    statuses = [r.status_code for r in await burst(clients, REQUESTS)]
    assert statuses.count(200) == INSTANCES * LIMIT


@pytest.mark.parametrize("stale_copies", [False, True], ids=["refreshed", "stale"])
async def test_a_breaker_opened_by_one_instance_stops_the_others(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state_tables: Any, stale_copies: bool
) -> None:
    clock = Clock(T0 + 10)
    breaker = {"failure_threshold": 3, "window_s": 30, "cooldown_s": 30}
    config = {**routing(fake_upstream, breaker=breaker), "limits": {}}
    clients = await instances(gateway, config, dynamo_settings(state_tables), clock)
    await burst(clients, INSTANCES)  # every instance now holds a copy of a's breaker: closed
    assert fake_upstream.count("a") == INSTANCES

    fake_upstream.set_default("a", Reply.overloaded())
    first = clients[0]
    for _ in range(3):
        served = await first.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert served.headers["x-switchyard-provider"] == "b"
    failed_calls = fake_upstream.count("a")
    assert failed_calls == INSTANCES + 3

    if not stale_copies:
        clock.advance(2)  # the others' copies are now older than state_refresh_s: they read again
    responses = await one_at_a_time(clients[1:], 20)
    assert {r.headers["x-switchyard-provider"] for r in responses} == {"b"}
    # Refreshed copies: not one more call to a. Stale ones: each other instance calls a once,
    # fails, and learns from the failed write that the breaker is open.
    extra = 0 if not stale_copies else INSTANCES - 1
    assert fake_upstream.count("a") == failed_calls + extra


def key_id_of_master() -> str:
    from fakes import MASTER_KEY

    return key_id(MASTER_KEY)


def _minute_requests(resources: Any, key: str) -> int:
    dynamodb = aws_client("dynamodb", resources.endpoint)
    try:
        item = dynamodb.get_item(
            TableName=resources.tables["StateTable"],
            Key={"pk": {"S": f"key#{key}"}, "sk": {"S": "state"}},
            ConsistentRead=True,
        )["Item"]
    finally:
        dynamodb.close()
    return int(item["r_m"]["N"])
