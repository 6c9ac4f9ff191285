"""Usage aggregates as callers see them, on memory state and DynamoDB (moto): every answer, cache
hit and unanswered request lands in the day's aggregate of its tenant, key, model and provider;
`GET /v1/usage` shows a key its own, `GET /admin/usage` any tenant, grouped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, dep
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, GatewayFactory, dynamo_settings, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app

Serve = Callable[..., Any]


@pytest.fixture
async def serve(config_file: ConfigFile) -> AsyncIterator[Serve]:
    """Like ``gateway``, but also yields the app's Gateway (to wait for its background writes)."""
    async with AsyncExitStack() as stack:

        async def make(
            config: dict[str, Any], state: dict[str, Any], clock: Clock
        ) -> tuple[httpx.AsyncClient, Gateway]:
            settings = RouterSettings(
                config_path=config_file(config),
                master_key=SecretStr(MASTER_KEY),
                environment=dict(GATEWAY_ENV),
                **state,
            )
            app = create_app(settings, clock=clock)
            asgi = await stack.enter_async_context(running(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=asgi),
                base_url="http://gateway",
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
            )
            return await stack.enter_async_context(client), app.state.gateway

        yield make


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream) -> dict[str, Any]:
    price, half = {"input": 1, "output": 2}, {"input": "0.5", "output": 1}
    return fake.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={
            "m": {"deployments": [dep("a", "up-a", price=price), dep("b", "up-b", price=half)]},
            "n": {"deployments": [dep("a", "up-n", price=price)]},
        },
    )


async def ask(client: httpx.AsyncClient, key: str, model: str = "m", **fields: Any) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, **fields}
    return await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def test_usage_is_aggregated_per_key_model_and_provider(
    fake_upstream: FakeUpstream, serve: Serve, state: dict[str, Any]
) -> None:
    client, app_gateway = await serve(config(fake_upstream), state, Clock(T0 + 5))
    made = (await client.post("/admin/keys", json={"tenant": "acme"})).json()
    other = (await client.post("/admin/keys", json={"tenant": "acme"})).json()
    key = made["key"]
    fake_upstream.script("a", Reply.ok(input_tokens=1000, output_tokens=500))  # 1000*1 + 500*2 = 0.002
    assert (await ask(client, key, temperature=0)).status_code == 200
    hit = await ask(client, key, temperature=0)
    assert hit.headers["x-switchyard-cache"] == "hit"
    fake_upstream.script("a", Reply.overloaded())  # fails over to b: a fallback
    assert (await ask(client, key)).headers["x-switchyard-provider"] == "b"
    fake_upstream.set_default("a", Reply.bad_request())
    assert (await ask(client, key, "n")).status_code == 400  # no answer: an error
    assert (await ask(client, other["key"], "n")).status_code == 400
    await app_gateway.usage.drain()  # usage is written in the background

    own = (await client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})).json()
    by_model = {row["group"]: row for row in own["data"]}
    assert by_model["m"]["requests"] == 3 and by_model["m"]["cache_hits"] == 1
    assert by_model["m"]["fallbacks"] == 1
    assert Decimal(by_model["m"]["saved_usd"]) == Decimal("0.002")
    assert by_model["n"]["errors"] == 1 and own["total"]["requests"] == 4  # not the other key's

    admin = (await client.get("/admin/usage", params={"tenant": "acme", "group_by": "provider"})).json()
    by_provider = {row["group"]: row for row in admin["data"]}
    assert by_provider["a"]["requests"] == 2  # the answer and the hit served by a
    assert admin["total"]["requests"] == 5 and admin["total"]["errors"] == 2
    assert Decimal(admin["total"]["cost_usd"]) == Decimal("0.002") + Decimal(by_provider["b"]["cost_usd"])
    # m's traffic on its route's cheaper deployment b: 1011 tokens in at $0.5/1M, 507 out at $1/1M.
    [saving] = admin["savings"]
    assert (saving["model"], saving["alternative"]) == ("m", "b/up-b")
    micro = Decimal("0.000001")
    assert Decimal(saving["alternative_cost_usd"]) == Decimal("0.0010125").quantize(micro)
    m_cost = Decimal("0.002") + Decimal(by_provider["b"]["cost_usd"])
    assert Decimal(saving["saving_usd"]) == (m_cost - Decimal("0.0010125")).quantize(micro)
    by_key = (await client.get("/admin/usage", params={"group_by": "key"})).json()["data"]
    assert {row["group"] for row in by_key} == {made["key_id"], other["key_id"]}


async def test_a_range_is_validated(fake_upstream: FakeUpstream, gateway: GatewayFactory) -> None:
    client = await gateway(config(fake_upstream))
    reversed_range = await client.get("/admin/usage", params={"start": "2027-02-01", "end": "2027-01-01"})
    assert reversed_range.status_code == 400
    too_long = await client.get("/admin/usage", params={"start": "2026-01-01", "end": "2027-01-01"})
    assert too_long.status_code == 400
