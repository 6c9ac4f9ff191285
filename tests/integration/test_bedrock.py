"""Amazon Bedrock (``kind: bedrock``) against the fake Bedrock endpoint on 127.0.0.1: Converse and
ConverseStream signed with SigV4 (checked by the fake from the published algorithm), the request
and answer translation (system, images, tools, stop sequences, cache-aware usage), cross-region
profile ids and ARNs in the URL, prices from the table, and Bedrock's failures in the error
policy (throttling, model not ready, unavailable, context length, validation, access)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, assert_no_leak, assert_openai_error, assert_served
from streaming_checks import content_of, cost_of, openai_stream, parse_sse

from conftest import GatewayFactory
from fakes import FAKE_KEY, FakeUpstream, Reply, ToolCallSpec
from fakes.constants import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
from fakes.upstream import FAST_RETRY, QUIET_BREAKER

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # a cross-region inference profile
NOVA = "amazon.nova-lite-v1:0"
AWS_ENV = {"AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()


def bedrock(fake: FakeUpstream, name: str = "br", **extra: Any) -> dict[str, Any]:
    return {"kind": "bedrock", "region": "us-east-1", "base_url": fake.url(name), "timeout_s": 5, **extra}


def config(fake: FakeUpstream, **models: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "providers": {"br": bedrock(fake), "br2": bedrock(fake, "br2")},
        "models": models
        or {
            "haiku": {"deployments": [{"provider": "br", "model": HAIKU, "context_window": 200_000}]},
            "nova": {
                "deployments": [
                    {"provider": "br", "model": NOVA, "context_window": 300_000},
                    {"provider": "br2", "model": NOVA, "context_window": 300_000},
                ]
            },
        },
        "retry": FAST_RETRY,
        "breaker": QUIET_BREAKER,
    }


async def serve(fake: FakeUpstream, gateway: GatewayFactory, **models: Any) -> httpx.AsyncClient:
    return await gateway(config(fake, **models), environment=AWS_ENV)


async def ask(client: httpx.AsyncClient, model: str = "haiku", **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES, **fields})


# -- buffered -------------------------------------------------------------------------------------


async def test_converse_is_signed_and_translated_both_ways(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.ok("Bonjour.", input_tokens=1000, output_tokens=100))
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Say hello."},
    ]

    response = await ask(
        client, messages=messages, max_tokens=50, temperature=1.5, top_p=0.9, stop=["END"], seed=7
    )

    body = assert_served(response, fake_upstream, provider="br", model=HAIKU, attempts=1)
    assert body["choices"][0]["message"]["content"] == "Bonjour."
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["model"] == HAIKU
    assert body["usage"] == {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100} | {
        "prompt_tokens_details": {"cached_tokens": 0}
    }
    [call] = fake_upstream.calls("br")
    assert call.path == f"/model/{HAIKU}/converse"
    assert call.sigv4_problem is None  # signed, and the fake's own SigV4 check agrees
    assert call.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request" in call.headers["authorization"]
    assert call.body == {
        "messages": [{"role": "user", "content": [{"text": "Say hello."}]}],
        "system": [{"text": "Answer in French."}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]},
    }
    # The geographic profile is priced as its model (1.10 in, 5.50 out per 1M).
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.00165")


async def test_images_tools_and_tool_results_become_converse_blocks(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    call_spec = ToolCallSpec("get_weather", {"city": "Lyon"}, id="tooluse_2")
    fake_upstream.script("br", Reply.ok("Checking.", tool_calls=[call_spec]))
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Weather where this is?"}, image]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "tooluse_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "Sunny, 21 C"},
    ]

    response = await ask(client, messages=messages, tools=[WEATHER], tool_choice="required")

    body = assert_served(response, fake_upstream, provider="br", model=HAIKU, attempts=1)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [tool_call] = choice["message"]["tool_calls"]
    assert tool_call["id"] == "tooluse_2" and tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Lyon"}
    [call] = fake_upstream.calls("br")
    assert call.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Weather where this is?"},
                {"image": {"format": "png", "source": {"bytes": PIXEL}}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "Sunny, 21 C"}]}}],
        },
    ]
    spec = WEATHER["function"]
    assert call.body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "inputSchema": {"json": spec["parameters"]},
                    "description": spec["description"],
                }
            }
        ],
        "toolChoice": {"any": {}},
    }


async def test_cache_tokens_are_counted_and_priced_apart(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    reply = Reply.ok(input_tokens=100, output_tokens=20, cache_read_tokens=1000, cache_write_tokens=400)
    fake_upstream.script("br", reply)
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "Long policy.", "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": "Say hello."},
    ]

    response = await ask(client, messages=messages)

    body = assert_served(response, fake_upstream, provider="br", model=HAIKU, attempts=1)
    assert body["usage"]["prompt_tokens"] == 1500  # Converse's inputTokens excludes cache tokens
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 1000}
    assert body["usage"]["cache_creation_input_tokens"] == 400
    [call] = fake_upstream.calls("br")
    assert call.body["system"] == [{"text": "Long policy."}, {"cachePoint": {"type": "default"}}]
    # 100 * 1.10 + 1000 * 0.11 + 400 * 1.375 + 20 * 5.50 per 1M = 110 + 110 + 550 + 110.
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.00088")


async def test_an_inference_profile_arn_is_one_escaped_path_segment(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.{NOVA}"
    client = await serve(fake_upstream, gateway, arn={"deployments": [{"provider": "br", "model": arn}]})
    fake_upstream.script("br", Reply.ok(input_tokens=1000, output_tokens=1000))
    response = await ask(client, "arn")
    assert response.status_code == 200, response.text
    [call] = fake_upstream.calls("br")
    assert call.model == arn and call.sigv4_problem is None
    # One path segment: the ARN's "/" escaped, its ":" as they are (what was signed).
    assert call.raw_path == f"/model/{arn.replace('/', '%2F')}/converse"
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.0003")  # 0.06 + 0.24


async def test_a_bedrock_api_key_is_sent_as_a_bearer_token_instead_of_a_signature(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    models = {"nova": {"deployments": [{"provider": "key", "model": NOVA}]}}
    cfg = config(fake_upstream, **models)
    cfg["providers"]["key"] = bedrock(fake_upstream, "key", api_key={"env": "FAKE_KEY"})
    client = await gateway(cfg)  # no AWS credentials at all
    response = await ask(client, "nova")
    assert response.status_code == 200, response.text
    [call] = fake_upstream.calls("key")
    assert call.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert "x-amz-date" not in call.headers


async def test_image_urls_are_refused_before_any_call(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    response = await ask(client, messages=[{"role": "user", "content": [image]}])
    assert_openai_error(response, fake_upstream, 400, code="invalid_request")
    assert "base64" in response.json()["error"]["message"]
    assert fake_upstream.count() == 0


async def test_wrong_credentials_are_refused_by_the_signature_check(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    env = {**AWS_ENV, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    client = await gateway(config(fake_upstream), environment=env)
    response = await ask(client)
    error = assert_openai_error(response, fake_upstream, 503, code="no_deployment_available")
    assert "credentials" in error["message"]
    [call] = fake_upstream.calls("br")
    assert call.sigv4_problem == "signature mismatch"
    assert "not-the-secret" not in response.text


# -- errors ---------------------------------------------------------------------------------------


async def test_throttling_is_retried_as_a_rate_limit(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script(
        "br", Reply.error(429, "Too many requests, please wait.", error_type="ThrottlingException")
    )
    response = await ask(client)
    assert_served(response, fake_upstream, provider="br", model=HAIKU, attempts=2)
    assert fake_upstream.count("br") == 2


@pytest.mark.parametrize(
    ("status", "exception"),
    [(429, "ModelNotReadyException"), (503, "ServiceUnavailableException"), (403, "AccessDeniedException")],
)
async def test_overload_and_access_failures_move_to_the_next_deployment(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, status: int, exception: str
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.error(status, "Not now.", error_type=exception))
    response = await ask(client, "nova")
    assert_served(response, fake_upstream, provider="br2", model=NOVA, attempts=2)
    assert fake_upstream.count("br") == 1  # not retried on the same deployment


async def test_input_too_long_is_a_context_length_error(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    too_long = Reply.error(400, "Input is too long for requested model.", error_type="ValidationException")
    fake_upstream.script("br", too_long)
    response = await ask(client)
    error = assert_openai_error(response, fake_upstream, 400, code="context_length_exceeded")
    assert "Input is too long" in error["message"]


async def test_other_validation_errors_reach_the_caller(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    invalid = Reply.error(
        400,
        "The model returned the following errors: temperature: range: 0..1",
        error_type="ValidationException",
    )
    fake_upstream.script("br", invalid)
    response = await ask(client, "nova")
    error = assert_openai_error(response, fake_upstream, 400, code="invalid_request")
    assert "temperature: range" in error["message"]
    assert fake_upstream.count() == 1  # the caller's to fix: no failover


# -- streams --------------------------------------------------------------------------------------


async def test_converse_stream_is_decoded_into_chunks_with_usage(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    call_spec = ToolCallSpec("get_weather", {"city": "Lyon"}, id="tooluse_9")
    fake_upstream.script(
        "br", Reply.ok("Let me look.", tool_calls=[call_spec], input_tokens=1000, output_tokens=100)
    )

    response = await ask(client, stream=True, stream_options={"include_usage": True}, tools=[WEATHER])

    chunks, done, error = openai_stream(response.text)
    assert done and error is None
    assert content_of(chunks) == "Let me look."
    calls = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert calls[0]["id"] == "tooluse_9" and calls[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(tc["function"].get("arguments") or "" for tc in calls)) == {"city": "Lyon"}
    finish = [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert finish == ["tool_calls"]
    assert chunks[-1]["usage"]["prompt_tokens"] == 1000 and chunks[-1]["usage"]["completion_tokens"] == 100
    assert Decimal(cost_of(response.text)) == Decimal("0.00165")
    [call] = fake_upstream.calls("br")
    assert call.path == f"/model/{HAIKU}/converse-stream" and call.sigv4_problem is None
    assert fake_upstream.stream_ends("br") == ["complete"]
    assert_no_leak(response, fake_upstream)


async def test_an_exception_before_the_first_token_fails_over(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.stream_exception_after(1, "serviceUnavailableException"))
    response = await ask(client, "nova", stream=True)
    chunks, done, error = openai_stream(response.text)
    assert done and error is None and content_of(chunks)
    assert response.headers["x-switchyard-provider"] == "br2"


async def test_an_exception_after_the_first_token_ends_the_stream_with_an_error_event(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.stream_exception_after(3, "throttlingException"))
    response = await ask(client, stream=True)
    chunks, done, error = openai_stream(response.text)
    assert not done and error is not None
    assert error["type"] == "rate_limit_error"
    assert content_of(chunks)  # what came before the failure was delivered
    assert fake_upstream.count("br2") == 0


async def test_a_stream_cut_before_its_stop_event_is_a_bad_response(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script("br", Reply.stream(drop_after=4))
    response = await ask(client, stream=True)
    chunks, done, error = openai_stream(response.text)
    assert not done and error is not None and error["type"] == "api_error"
    assert content_of(chunks) == "Hello from the"  # three text events came before the cut


async def test_anthropic_callers_are_served_by_bedrock(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await serve(fake_upstream, gateway)
    fake_upstream.script(
        "br", Reply.ok("Hi there.", input_tokens=10, output_tokens=3), Reply.ok("Streamed hi.")
    )
    body = {"model": "haiku", "max_tokens": 64, "system": "Be brief.", "messages": MESSAGES}

    buffered = await client.post("/v1/messages", json=body)
    streamed = await client.post("/v1/messages", json={**body, "stream": True})

    assert buffered.status_code == 200, buffered.text
    message = buffered.json()
    assert message["content"] == [{"type": "text", "text": "Hi there."}]
    assert message["usage"]["input_tokens"] == 10 and message["usage"]["output_tokens"] == 3
    events, _ = parse_sse(streamed.text)
    text = "".join(e.json()["delta"].get("text", "") for e in events if e.event == "content_block_delta")
    assert text == "Streamed hi."
    first, second = fake_upstream.calls("br")
    assert first.body["system"] == [{"text": "Be brief."}] and first.body["inferenceConfig"] == {
        "maxTokens": 64
    }
    assert second.path.endswith("/converse-stream")
