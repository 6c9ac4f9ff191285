"""The shipped config's Azure OpenAI and Cloudflare Workers AI entries, called as shipped (only
the host is the fake's): the URL each provider expects, its key header, its query, buffered and
streamed, its errors, and the price the table gives its models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from gateway_checks import MESSAGES, assert_openai_error, assert_served
from shipped_config import shipped_provider
from streaming_checks import content_of, cost_of, openai_stream

from conftest import GatewayFactory
from fakes import DEFAULT_CONTENT, FakeUpstream, Reply

AZURE_KEY = "azure-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
CLOUDFLARE_KEY = "cf-token-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


async def ask(client: httpx.AsyncClient, model: str, **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES, **fields})


async def azure(fake: FakeUpstream, gateway: GatewayFactory) -> httpx.AsyncClient:
    environment = {"AZURE_OPENAI_ENDPOINT": fake.url("azure"), "AZURE_OPENAI_API_KEY": AZURE_KEY}
    return await gateway(shipped_provider(fake, "azure"), environment=environment)


async def cloudflare(fake: FakeUpstream, gateway: GatewayFactory) -> httpx.AsyncClient:
    environment = {"CLOUDFLARE_ACCOUNT_ID": "acct-1234", "CLOUDFLARE_API_KEY": CLOUDFLARE_KEY}
    return await gateway(shipped_provider(fake, "cloudflare"), environment=environment)


# -- Azure OpenAI ----------------------------------------------------------------------------------


async def test_azure_calls_the_deployment_url_with_the_api_version_and_api_key_header(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await azure(fake_upstream, gateway)
    fake_upstream.script("azure", Reply.ok(input_tokens=1000, output_tokens=100))

    response = await ask(client, "azure-gpt-4o-mini")

    body = assert_served(response, fake_upstream, provider="azure", model="gpt-4o-mini", attempts=1)
    assert body["choices"][0]["message"]["content"] == DEFAULT_CONTENT
    [call] = fake_upstream.calls("azure")
    assert call.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert call.query == {"api-version": "2024-10-21"}
    assert call.headers["api-key"] == AZURE_KEY
    assert "authorization" not in call.headers  # Azure's header, not a Bearer token
    assert "metadata" not in call.body and "store" not in call.body
    # The deployment's own price: 1000 * 0.15 + 100 * 0.60 per 1M.
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.00021")


async def test_azure_streams_with_usage_from_the_upstream(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await azure(fake_upstream, gateway)
    fake_upstream.script("azure", Reply.ok(input_tokens=1000, output_tokens=100))

    response = await ask(client, "azure-gpt-4o-mini", stream=True)

    chunks, done, error = openai_stream(response.text)
    assert done and error is None and content_of(chunks) == DEFAULT_CONTENT
    [call] = fake_upstream.calls("azure")
    assert call.path.endswith("/deployments/gpt-4o-mini/chat/completions")
    assert call.body["stream_options"] == {"include_usage": True}
    assert Decimal(cost_of(response.text)) == Decimal("0.00021")  # counted, not estimated


async def test_azure_content_filter_refusal_reaches_the_caller_as_content_filter(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await azure(fake_upstream, gateway)
    fake_upstream.script("azure", Reply.content_filter())
    response = await ask(client, "azure-gpt-4o-mini")
    assert_openai_error(response, fake_upstream, 400, code="content_filter")
    assert AZURE_KEY not in response.text
    assert fake_upstream.count("azure") == 1  # a policy refusal is not retried


async def test_azure_is_left_out_without_its_endpoint(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    config = shipped_provider(fake_upstream, "azure")
    client = await gateway(config, environment={"AZURE_OPENAI_API_KEY": "k"})
    response = await ask(client, "azure-gpt-4o-mini")
    assert response.status_code == 404
    assert fake_upstream.count() == 0


# -- Cloudflare Workers AI -------------------------------------------------------------------------


async def test_cloudflare_model_names_route_to_the_account_endpoint(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await cloudflare(fake_upstream, gateway)
    fake_upstream.script("cloudflare", Reply.ok(input_tokens=1000, output_tokens=1000))

    # "@cf/..." names go to Cloudflare by the shipped wildcard; the price table knows the model.
    response = await ask(client, "@cf/meta/llama-3.1-8b-instruct")

    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == "cloudflare"
    [call] = fake_upstream.calls("cloudflare")
    assert call.path == "/client/v4/accounts/acct-1234/ai/v1/chat/completions"
    assert call.headers["authorization"] == f"Bearer {CLOUDFLARE_KEY}"
    assert call.body["model"] == "@cf/meta/llama-3.1-8b-instruct"
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.001109")  # 0.282 + 0.827


async def test_cloudflare_streams_without_stream_options_and_estimates_missing_usage(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await cloudflare(fake_upstream, gateway)

    response = await ask(client, "llama-3.3-70b", stream=True, stream_options={"include_usage": True})

    chunks, done, error = openai_stream(response.text)
    assert done and error is None and content_of(chunks) == DEFAULT_CONTENT
    [call] = fake_upstream.calls("cloudflare")
    assert call.body["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert "stream_options" not in call.body
    # The fake sends no usage unless asked: the caller still gets usage (estimated) and a cost.
    [usage_chunk] = [c for c in chunks if c.get("usage")]
    assert usage_chunk["usage"]["completion_tokens"] > 0
    assert Decimal(cost_of(response.text)) > 0


async def test_cloudflare_errors_in_its_api_envelope_are_classified(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await cloudflare(fake_upstream, gateway)
    envelope = {
        "errors": [
            {
                "code": 5021,
                "message": "The estimated number of input and maximum output tokens (30000) exceeded "
                "this model context window limit (24000).",
            }
        ],
        "success": False,
        "result": {},
    }
    fake_upstream.script("cloudflare", Reply.error(400, body=envelope))
    response = await ask(client, "llama-3.3-70b")
    error = assert_openai_error(response, fake_upstream, 400, code="context_length_exceeded")
    assert "24000" in error["message"]  # the upstream's own words help the caller shorten
