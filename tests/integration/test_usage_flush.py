"""Usage reaches the aggregates on time through the HTTP app: a request that arrives when the
buffered usage is older than the flush interval (a Lambda instance thawed after a freeze) writes
it, and a router stopped with SIGTERM, as Lambda stops it, writes what it still held."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from gateway_checks import MESSAGES, dep
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, running
from fakes import MASTER_KEY, FakeUpstream
from statekit import T0, Clock
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app

HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}


def routing(fake: FakeUpstream) -> dict[str, Any]:
    return fake.routing_config(providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up-a")]}})


async def requests_in_usage(client: httpx.AsyncClient) -> int:
    answer = (await client.get("/v1/usage")).json()
    return int(answer["total"]["requests"])


async def test_a_request_arriving_after_the_interval_writes_the_usage_held_before_it(
    fake_upstream: FakeUpstream, config_file: ConfigFile
) -> None:
    clock = Clock(T0)
    settings = RouterSettings(
        config_path=config_file(routing(fake_upstream)),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        usage_flush_s=30,
    )
    app = create_app(settings, clock=clock)
    async with running(app) as asgi:
        usage = app.state.gateway.usage
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=HEADERS) as client:
            body = {"model": "m", "messages": MESSAGES}
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
            clock.advance(31)  # frozen: no timer ran, nothing was written
            assert await requests_in_usage(client) == 0
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
            await asyncio.gather(*usage._pending)
            # The first answer went out when the second request arrived; the second is still held.
            assert await requests_in_usage(client) == 1
            await usage.drain()
            assert await requests_in_usage(client) == 2
