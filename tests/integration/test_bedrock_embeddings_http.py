"""``POST /v1/embeddings`` served by Amazon Bedrock (``kind: bedrock``) against the fake Bedrock
endpoint on 127.0.0.1: Titan Text Embeddings (one signed InvokeModel call per input, in input
order, tokens summed and priced from the table), Cohere Embed v3 (batches of 96), base64 made from
Bedrock's floats, what is refused before any call, and failover (throttling to a second Bedrock
deployment, a Bedrock model that embeds nothing to an OpenAI-compatible one)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from gateway_checks import assert_no_leak, assert_openai_error

from conftest import GatewayFactory
from fakes import FakeUpstream, Reply, fake_vector
from fakes.constants import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, FAKE_KEY_ENV
from fakes.upstream import FAST_RETRY, QUIET_BREAKER
from switchyard.api.embeddings import decode_vector

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
NOVA = "amazon.nova-lite-v1:0"
AWS_ENV = {"AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY}
INPUTS = ["The quick brown fox", "jumps over", "the lazy dog"]


def bedrock(fake: FakeUpstream, name: str) -> dict[str, Any]:
    return {"kind": "bedrock", "region": "us-east-1", "base_url": fake.url(name), "timeout_s": 5}


def config(fake: FakeUpstream) -> dict[str, Any]:
    """Prices come from the shipped table (Titan v2 0.02, Cohere v3 0.10 per 1M input tokens)."""
    return {
        "version": 1,
        "providers": {
            "br": bedrock(fake, "br"),
            "br2": bedrock(fake, "br2"),
            "oa": fake.provider_config("oa", "openai_compatible", api_key_env=FAKE_KEY_ENV),
        },
        "models": {
            "titan": {"deployments": [{"provider": "br", "model": TITAN}]},
            "titan-ha": {
                "deployments": [{"provider": "br", "model": TITAN}, {"provider": "br2", "model": TITAN}]
            },
            "cohere": {"deployments": [{"provider": "br", "model": COHERE}]},
            # A Bedrock model that embeds nothing, then an OpenAI-compatible embeddings server.
            "mixed": {"deployments": [{"provider": "br", "model": NOVA}, {"provider": "oa", "model": "emb"}]},
        },
        "retry": FAST_RETRY,
        "breaker": QUIET_BREAKER,
    }


async def serve(fake: FakeUpstream, gateway: GatewayFactory) -> httpx.AsyncClient:
    return await gateway(config(fake), environment=AWS_ENV)


async def embed(client: httpx.AsyncClient, model: str = "titan", **fields: Any) -> httpx.Response:
    return await client.post("/v1/embeddings", json={"model": model, "input": INPUTS, **fields})


def assert_embedded(
    response: httpx.Response, fake: FakeUpstream, *, provider: str, model: str, attempts: int
) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == provider
    assert response.headers["x-switchyard-deployment"] == f"{provider}/{model}"
    assert response.headers["x-switchyard-attempts"] == str(attempts)
    assert_no_leak(response, fake)
    body: dict[str, Any] = response.json()
    assert body["object"] == "list"
    assert [(e["object"], e["index"]) for e in body["data"]] == [
        ("embedding", i) for i in range(len(body["data"]))
    ]
    return body


async def test_one_titan_input_is_one_signed_invoke_call_priced_from_the_table(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.ok(input_tokens=5000))

    response = await embed(client, input="The quick brown fox", dimensions=256)

    body = assert_embedded(response, fake_upstream, provider="br", model=TITAN, attempts=1)
    assert body["data"][0]["embedding"] == fake_vector("The quick brown fox", 256)
    assert body["model"] == TITAN
    assert body["usage"] == {"prompt_tokens": 5000, "total_tokens": 5000}
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.0001")  # 5000 x 0.02 / 1M
    [call] = fake_upstream.calls("br")
    assert call.path == f"/model/{TITAN}/invoke" and call.sigv4_problem is None
    assert call.headers["accept"] == "application/json"
    assert call.body == {"inputText": "The quick brown fox", "dimensions": 256, "normalize": True}


async def test_a_titan_list_is_one_call_per_input_kept_in_order_with_tokens_summed(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    # The first call to arrive answers last: the order must come from the inputs.
    fake_upstream.script(
        "br",
        Reply.ok(input_tokens=1000, latency_s=0.1),
        Reply.ok(input_tokens=2000),
        Reply.ok(input_tokens=3000),
    )

    response = await embed(client)

    body = assert_embedded(response, fake_upstream, provider="br", model=TITAN, attempts=1)
    assert [e["embedding"] for e in body["data"]] == [fake_vector(t) for t in INPUTS]
    assert body["usage"] == {"prompt_tokens": 6000, "total_tokens": 6000}
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.00012")
    calls = fake_upstream.calls("br")
    assert sorted(c.body["inputText"] for c in calls) == sorted(INPUTS)
    assert all(c.sigv4_problem is None for c in calls)


async def test_cohere_embeds_a_list_in_batches_of_96(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    texts = [f"chunk {i}" for i in range(100)]
    fake_upstream.script("br", Reply.ok(input_tokens=960), Reply.ok(input_tokens=40))

    response = await embed(client, "cohere", input=texts, input_type="search_query")

    body = assert_embedded(response, fake_upstream, provider="br", model=COHERE, attempts=1)
    assert [e["embedding"] for e in body["data"]] == [fake_vector(t) for t in texts]
    # Cohere counts its tokens in a header only: the two calls' counts, summed.
    assert body["usage"] == {"prompt_tokens": 1000, "total_tokens": 1000}
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.0001")  # 1000 x 0.10 / 1M
    calls = fake_upstream.calls("br")
    assert sorted(len(c.body["texts"]) for c in calls) == [4, 96]
    assert {c.body["input_type"] for c in calls} == {"search_query"}


async def test_base64_is_made_from_bedrocks_floats(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)

    titan = await embed(client, encoding_format="base64")
    cohere = await embed(client, "cohere", encoding_format="base64")

    for response in (titan, cohere):
        assert response.status_code == 200, response.text
        assert [decode_vector(e["embedding"]) for e in response.json()["data"]] == [
            fake_vector(t) for t in INPUTS
        ]
    assert all("encoding_format" not in c.body for c in fake_upstream.calls("br"))


async def test_throttling_fails_over_to_the_next_bedrock_deployment(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.set_default("br", Reply.error(429, "Too many requests.", error_type="ThrottlingException"))

    response = await embed(client, "titan-ha", input="hello")

    # A rate limit is waited out twice on the same deployment, then the next one answers.
    assert_embedded(response, fake_upstream, provider="br2", model=TITAN, attempts=4)
    assert fake_upstream.count("br") == 3 and fake_upstream.count("br2") == 1


async def test_a_bedrock_model_that_embeds_nothing_fails_over_without_a_call(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)

    response = await embed(client, "mixed")

    body = assert_embedded(response, fake_upstream, provider="oa", model="emb", attempts=2)
    assert [e["embedding"] for e in body["data"]] == [fake_vector(t) for t in INPUTS]
    assert fake_upstream.count("br") == 0 and fake_upstream.count("oa") == 1


async def test_what_bedrock_cannot_take_is_refused_before_any_call_without_failover(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)

    dimensions = await embed(client, "titan-ha", dimensions=300)
    tokens = await embed(client, "titan-ha", input=[[101, 102], [103]])
    cohere_dimensions = await embed(client, "cohere", dimensions=256)

    error = assert_openai_error(dimensions, fake_upstream, 400, code="invalid_request")
    assert "256, 512, 1024" in error["message"] and error["param"] == "dimensions"
    assert (
        "token arrays" in assert_openai_error(tokens, fake_upstream, 400, code="invalid_request")["message"]
    )
    assert_openai_error(cohere_dimensions, fake_upstream, 400, code="invalid_request")
    assert fake_upstream.count() == 0


async def test_a_validation_error_from_bedrock_reaches_the_caller(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script(
        "br", Reply.error(400, "Malformed input request: #/inputText: bad", error_type="ValidationException")
    )

    response = await embed(client, "titan-ha", input="hello")

    error = assert_openai_error(response, fake_upstream, 400, code="invalid_request")
    assert "Malformed input request" in error["message"]
    assert fake_upstream.count("br2") == 0  # the caller's to fix: no failover
