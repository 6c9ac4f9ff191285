"""OpenAI-dialect callers answered by an Anthropic-kind provider (the fake's ``/v1/messages``):
the request is translated on the way out, the answer (text, tool calls, cache-aware usage) on the
way back, and Anthropic failures follow the same error policy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_checks import MESSAGES, ask, assert_openai_error, assert_served, dep

from fakes import FAKE_KEY, FakeUpstream, Reply, ToolCallSpec

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PRICE = {"input": 1.0, "output": 2.0, "cached_input": 0.1, "cache_write": 1.25}


def _config(fake: FakeUpstream, **models: Any) -> dict[str, Any]:
    return fake.routing_config(
        providers={"c": "anthropic", "b": "openai"},
        models=models
        or {
            "m": {
                "deployments": [
                    dep("c", "claude-up", context_window=200_000, price=PRICE),
                    dep("b", "up-b", context_window=128_000),
                ]
            }
        },
    )


async def test_answer_with_tool_call_and_cache_usage_is_translated(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(_config(fake_upstream))
    fake_upstream.script(
        "c",
        Reply.ok(
            "Let me check.",
            tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"}, id="toolu_01")],
            input_tokens=10,
            cache_read_tokens=20,
            cache_write_tokens=30,
            output_tokens=5,
        ),
    )

    response = await ask(
        client,
        messages=[{"role": "system", "content": "Be brief."}, *MESSAGES],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        max_completion_tokens=100,
        stop="END",
    )

    body = assert_served(response, fake_upstream, provider="c", model="claude-up", attempts=1)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    [tool_call] = choice["message"]["tool_calls"]
    assert tool_call["id"] == "toolu_01"
    assert tool_call["type"] == "function"
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
    usage = body["usage"]
    assert usage["prompt_tokens"] == 60  # fresh + cache reads + cache writes, OpenAI-style
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == 65
    assert usage["prompt_tokens_details"]["cached_tokens"] == 20
    # 10 fresh * $1 + 20 cached * $0.10 + 30 written * $1.25 + 5 out * $2, per 1M tokens
    assert float(response.headers["x-switchyard-cost-usd"]) == pytest.approx(59.5e-6)


async def test_request_is_sent_in_the_messages_dialect(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_config(fake_upstream))

    await ask(
        client,
        messages=[{"role": "system", "content": "Be brief."}, *MESSAGES],
        tools=[WEATHER_TOOL],
        max_completion_tokens=100,
        stop="END",
        cache={"ttl": 60},
    )

    [call] = fake_upstream.calls("c")
    assert call.path == "/v1/messages"
    assert call.headers["x-api-key"] == FAKE_KEY
    assert "anthropic-version" in call.headers
    sent = call.body
    assert sent["model"] == "claude-up"
    assert sent["max_tokens"] == 100
    system = sent["system"]
    assert "Be brief." in (system if isinstance(system, str) else json.dumps(system))
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert sent["stop_sequences"] == ["END"]
    [tool] = sent["tools"]
    assert tool["name"] == "get_weather"
    assert tool["input_schema"] == WEATHER_TOOL["function"]["parameters"]
    assert "cache" not in sent


async def test_max_tokens_is_always_sent(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_config(fake_upstream))
    await ask(client)
    max_tokens = fake_upstream.calls("c")[0].body["max_tokens"]
    assert isinstance(max_tokens, int)
    assert max_tokens > 0


async def test_tool_round_trip_becomes_tool_use_and_tool_result_blocks(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(_config(fake_upstream))
    history = [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "toolu_01",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18°C and sunny"},
    ]

    response = await ask(client, messages=history, tools=[WEATHER_TOOL])

    assert_served(response, fake_upstream, provider="c", model="claude-up", attempts=1)
    sent = fake_upstream.calls("c")[0].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    [tool_use] = [b for b in sent[1]["content"] if b["type"] == "tool_use"]
    assert (tool_use["id"], tool_use["name"], tool_use["input"]) == (
        "toolu_01",
        "get_weather",
        {"city": "Paris"},
    )
    [result] = [b for b in sent[2]["content"] if b["type"] == "tool_result"]
    assert result["tool_use_id"] == "toolu_01"
    assert "18°C and sunny" in json.dumps(result["content"], ensure_ascii=False)


async def test_anthropic_529_fails_over_to_the_next_deployment(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_config(fake_upstream))
    fake_upstream.script("c", Reply.overloaded(529))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("c") == 1


async def test_anthropic_429_with_retry_after_is_retried(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_config(fake_upstream))
    fake_upstream.script("c", Reply.rate_limited(retry_after=0))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="c", model="claude-up", attempts=2)
    assert (fake_upstream.count("c"), fake_upstream.count("b")) == (2, 0)


async def test_anthropic_prompt_too_long_with_no_larger_window_is_a_400(
    fake_upstream: FakeUpstream, gateway
) -> None:
    # c has the largest window, so nothing is left to try after it.
    client = await gateway(_config(fake_upstream))
    fake_upstream.script(
        "c",
        Reply.error(
            400, "prompt is too long: 210000 tokens > 200000 maximum", error_type="invalid_request_error"
        ),
    )

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 400, code="context_length_exceeded")
    assert fake_upstream.count("b") == 0


async def test_anthropic_malformed_message_fails_over(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_config(fake_upstream))
    fake_upstream.script("c", Reply.error(200, body={"id": "msg_1", "type": "message"}))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
