"""``POST /v1/embeddings`` as a caller sees it: the ASGI app against the fake upstream on
127.0.0.1, on memory state and on DynamoDB (moto, the template's tables). The same pipeline as
chat: which deployment answered and how many upstream calls it took, failover, the exact cache,
key token limits, budgets, cost and usage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway_checks import assert_no_leak, assert_openai_error, dep

from conftest import GatewayFactory, dynamo_settings
from fakes import FAKE_KEY, FakeUpstream, Reply, fake_vector
from statekit import T0, Clock
from switchyard.api.embeddings import decode_vector

INPUTS = ["The quick brown fox", "jumps over the lazy dog"]  # 5 + 6 tokens at 4 chars a token
PRICE = {"input": 1000, "output": 0}  # USD per 1M tokens: 1 token costs $0.001


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """``e``: a (OpenAI) then b (OpenAI-compatible), the same upstream model; ``ce``: an Anthropic
    deployment first (no embeddings there), then a."""
    routing = fake.routing_config(
        providers={"a": "openai", "b": "openai_compatible", "c": "anthropic"},
        models={
            "e": {"deployments": [dep("a", "emb", price=PRICE), dep("b", "emb", price=PRICE)]},
            "ce": {"deployments": [dep("c", "emb"), dep("a", "emb", price=PRICE)]},
        },
    )
    return {**routing, **extra}


async def embed(
    client: httpx.AsyncClient, key: str | None = None, *, model: str = "e", **fields: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "input": INPUTS, **fields}
    return await client.post("/v1/embeddings", json=body, headers=headers)


def assert_embedded(response: httpx.Response, fake: FakeUpstream, *, provider: str, attempts: int) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == provider
    assert response.headers["x-switchyard-deployment"] == f"{provider}/emb"
    assert response.headers["x-switchyard-attempts"] == str(attempts)
    assert_no_leak(response, fake)
    body = response.json()
    assert body["object"] == "list" and [e["index"] for e in body["data"]] == [0, 1]
    return body


async def test_embeddings_are_routed_priced_and_answered_in_openai_shape(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.script("a", Reply.ok(input_tokens=9))

    response = await embed(client, dimensions=4)

    body = assert_embedded(response, fake_upstream, provider="a", attempts=1)
    assert [e["embedding"] for e in body["data"]] == [fake_vector(t, 4) for t in INPUTS]
    assert body["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.009")  # the upstream's count
    [call] = fake_upstream.calls("a")
    assert (call.path, call.api_key) == ("/v1/embeddings", FAKE_KEY)
    assert call.body == {"model": "emb", "input": INPUTS, "dimensions": 4}


async def test_base64_is_asked_of_openai_and_made_from_floats_for_compatible_upstreams(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))

    from_a = await embed(client, model="a/emb", encoding_format="base64")
    fake_upstream.script("a", Reply.overloaded())  # b (OpenAI-compatible) answers
    from_b = await embed(client, encoding_format="base64")

    for response in (from_a, from_b):
        vectors = [decode_vector(e["embedding"]) for e in response.json()["data"]]
        assert vectors == [fake_vector(t) for t in INPUTS]
    assert fake_upstream.calls("a")[0].body["encoding_format"] == "base64"
    assert "encoding_format" not in fake_upstream.calls("b")[0].body


@pytest.mark.parametrize(
    "failure",
    [
        Reply.overloaded(),
        Reply.server_error(502),
        Reply.rate_limited(retry_after=30),
        Reply.model_not_found("emb"),
    ],
    ids=["overloaded", "server-error", "rate-limited", "model-not-found"],
)
async def test_a_failing_deployment_fails_over_to_the_next(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, failure: Reply
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.set_default("a", failure)

    response = await embed(client)

    calls_to_a = fake_upstream.count("a")
    assert_embedded(response, fake_upstream, provider="b", attempts=calls_to_a + 1)
    assert calls_to_a == (2 if failure.status == 502 else 1)  # a server error is retried once
    assert fake_upstream.count("b") == 1


async def test_a_provider_without_embeddings_is_passed_over_without_a_call(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))

    response = await embed(client, model="ce")

    assert_embedded(response, fake_upstream, provider="a", attempts=2)
    assert fake_upstream.count("c") == 0


async def test_every_deployment_failing_is_an_error_in_openai_shape(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    for name in ("a", "b"):
        fake_upstream.set_default(name, Reply.model_not_found("emb"))
    assert_openai_error(await embed(client), fake_upstream, 404, code="model_not_found")
    assert_openai_error(await embed(client, model="nope"), fake_upstream, 404, code="model_not_found")
    bad = await embed(client, input=["fine", ""])
    assert assert_openai_error(bad, fake_upstream, 400)["param"] == "input"
    assert fake_upstream.count("a") == fake_upstream.count("b") == 1


async def test_a_repeated_request_is_answered_from_the_cache(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    fake_upstream.script("a", Reply.ok(input_tokens=11))

    first = await embed(client)
    hit = await embed(client, user="someone-else", encoding_format="float")  # the same request
    other_format = await embed(client, encoding_format="base64")
    skipped = await client.post(
        "/v1/embeddings", json={"model": "e", "input": INPUTS}, headers={"x-switchyard-cache": "no-cache"}
    )

    assert first.headers["x-switchyard-cache"] == "miss"
    assert hit.headers["x-switchyard-cache"] == "hit" and hit.content == first.content
    assert hit.headers["x-switchyard-attempts"] == "0"
    assert Decimal(hit.headers["x-switchyard-cost-usd"]) == 0
    assert Decimal(hit.headers["x-switchyard-cost-saved-usd"]) == Decimal("0.011")
    assert other_format.headers["x-switchyard-cache"] == "miss"
    assert skipped.headers["x-switchyard-cache"] == "skip"
    assert fake_upstream.count("a") == 3


async def test_a_keys_token_limit_counts_embedding_inputs(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    made = await client.post("/admin/keys", json={"tenant": "acme", "limits": {"tpm": 30}})
    key = made.json()["key"]
    fake_upstream.set_default("a", Reply.ok(input_tokens=11))

    first = await embed(client, key, user="1", cache={"no-store": True})
    # 11 used: 19 left; the next estimate (11) fits once more, then not.
    second = await embed(client, key, user="2", cache={"no-store": True})
    refused = await embed(client, key, user="3", cache={"no-store": True})

    assert first.headers["x-ratelimit-remaining-tokens"] == str(30 - 11)
    assert second.status_code == 200
    assert_openai_error(refused, fake_upstream, 429, code="rate_limit_exceeded")
    assert refused.headers["retry-after"]
    assert fake_upstream.count("a") == 2  # refused before any upstream call


async def test_a_key_budget_reserves_and_blocks_embeddings(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    made = await client.post("/admin/keys", json={"tenant": "acme", "budgets": {"daily": "0.02"}})
    key = made.json()["key"]
    fake_upstream.set_default("a", Reply.ok(input_tokens=11))

    # Each reserves its estimate, 11 tokens ($0.011): the first fits, then $0.011 spent + $0.011 > $0.02.
    statuses = [
        (await embed(client, key, user=str(i), cache={"no-store": True})).status_code for i in range(3)
    ]

    assert statuses == [200, 429, 429]
    refused = await embed(client, key, user="x", cache={"no-store": True})
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert fake_upstream.count("a") == 1


async def test_usage_files_embeddings_under_their_key_and_model(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    made = await client.post("/admin/keys", json={"tenant": "acme"})
    key = made.json()["key"]
    fake_upstream.set_default("a", Reply.ok(input_tokens=11))
    assert (await embed(client, key)).status_code == 200
    assert (await embed(client, key)).headers["x-switchyard-cache"] == "hit"
    app_gateway = client._transport.app.app.state.gateway  # type: ignore[attr-defined]
    await app_gateway.usage.drain()

    usage = (await client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})).json()

    [row] = usage["data"]
    assert (row["group"], row["requests"], row["cache_hits"]) == ("e", 2, 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (11, 0)
    assert Decimal(row["cost_usd"]) == Decimal(row["saved_usd"]) == Decimal("0.011")
