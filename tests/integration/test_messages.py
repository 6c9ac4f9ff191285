"""``POST /v1/messages`` (ASGI app + fake upstream): the Anthropic Messages API answered by providers
of either dialect, buffered and streamed, with errors in Anthropic's shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from streaming_checks import Event, ServedFactory, parse_sse, serving, two_streaming

from fakes import DEFAULT_CONTENT, FAKE_KEY, FakeUpstream, Reply, ToolCallSpec

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
async def served(config_file) -> AsyncIterator[ServedFactory]:
    async with serving(config_file) as make:
        yield make


def _request(**fields: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Say hello."}],
        **fields,
    }


def _rich_request(**fields: Any) -> dict[str, Any]:
    """System, several turns, an image, a tool round trip, stop sequences."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "What is here?"}, image]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Snow."}]},
    ]
    return _request(system="Be brief.", messages=messages, tools=[WEATHER], stop_sequences=["END"], **fields)


def _assert_anthropic_error(response: httpx.Response, status: int, error_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_buffered_message_from_either_dialect(fake_upstream: FakeUpstream, served, kind: str) -> None:
    gw = await served(two_streaming(fake_upstream, (kind, "openai")))
    fake_upstream.script("a", Reply.ok(input_tokens=10, output_tokens=7, cache_read_tokens=3))

    response = await gw.client.post("/v1/messages", json=_rich_request())

    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == "a"
    body = response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_")
    assert body["content"] == [{"type": "text", "text": DEFAULT_CONTENT}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 10
    assert body["usage"]["output_tokens"] == 7
    assert body["usage"]["cache_read_input_tokens"] == 3
    [call] = fake_upstream.calls("a")
    sent = call.body
    if kind == "openai":
        roles = [m["role"] for m in sent["messages"]]
        assert roles == ["system", "user", "assistant", "tool"]
        assert sent["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert sent["messages"][2]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert sent["tools"][0]["function"]["name"] == "get_weather"
        assert (sent["max_tokens"], sent["stop"]) == (256, ["END"])
    else:
        assert sent["system"] == "Be brief."
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert sent["messages"][1]["content"][0]["type"] == "tool_use"
        assert (sent["max_tokens"], sent["stop_sequences"]) == (256, ["END"])
    assert gw.records[0].usage.completion_tokens == 7


def _names(events: list[Event]) -> list[str]:
    """Event names with runs of content_block_delta collapsed to one."""
    names: list[str] = []
    for event in events:
        assert event.event is not None, "every Anthropic event is named"
        assert event.json()["type"] == event.event
        if not (names and names[-1] == event.event == "content_block_delta"):
            names.append(event.event)
    return names


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_streamed_message_event_sequence(fake_upstream: FakeUpstream, served, kind: str) -> None:
    gw = await served(two_streaming(fake_upstream, (kind, "openai")))
    call = ToolCallSpec("get_weather", {"city": "Paris"}, id="toolu_9")
    fake_upstream.script("a", Reply.ok("Let me check.", tool_calls=[call], input_tokens=10, output_tokens=7))

    response = await gw.client.post("/v1/messages", json=_request(stream=True, tools=[WEATHER]))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-switchyard-provider"] == "a"
    events, comments = parse_sse(response.text)
    assert _names(events) == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_stop"] * 2,
        "message_delta",
        "message_stop",
    ]
    start = events[0].json()["message"]
    assert start["id"].startswith("msg_") and start["role"] == "assistant" and start["content"] == []
    text = "".join(e.json()["delta"].get("text", "") for e in events if e.event == "content_block_delta")
    assert text == "Let me check."
    blocks = [e.json() for e in events if e.event == "content_block_start"]
    assert [b["index"] for b in blocks] == [0, 1]
    assert blocks[1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_9",
        "name": "get_weather",
        "input": {},
    }
    partial = "".join(
        e.json()["delta"].get("partial_json", "") for e in events if e.event == "content_block_delta"
    )
    assert json.loads(partial) == {"city": "Paris"}
    delta = next(e.json() for e in events if e.event == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert (delta["usage"]["input_tokens"], delta["usage"]["output_tokens"]) == (10, 7)
    assert any(c.startswith("x-switchyard-cost-usd=") for c in comments)
    [record] = gw.records
    assert record.streamed and not record.partial


async def test_errors_use_anthropic_shape(fake_upstream: FakeUpstream, served) -> None:
    gw = await served(two_streaming(fake_upstream))

    no_key = await gw.client.post("/v1/messages", json=_request(), headers={"Authorization": ""})
    wrong_key = await gw.client.post(
        "/v1/messages", json=_request(), headers={"Authorization": "", "x-api-key": "nope"}
    )
    invalid = await gw.client.post("/v1/messages", json={"model": "m", "messages": []})
    not_json = await gw.client.post(
        "/v1/messages", content=b"{", headers={"content-type": "application/json"}
    )
    unknown = await gw.client.post("/v1/messages", json=_request(model="nope"))

    _assert_anthropic_error(no_key, 401, "authentication_error")
    _assert_anthropic_error(wrong_key, 401, "authentication_error")
    _assert_anthropic_error(invalid, 400, "invalid_request_error")
    _assert_anthropic_error(not_json, 400, "invalid_request_error")
    _assert_anthropic_error(unknown, 404, "not_found_error")
    assert fake_upstream.count() == 0


async def test_stream_failing_before_the_first_token_is_an_anthropic_http_error(
    fake_upstream: FakeUpstream, served
) -> None:
    gw = await served(two_streaming(fake_upstream))
    for name in ("a", "b"):
        fake_upstream.set_default(name, Reply.overloaded(529))

    response = await gw.client.post("/v1/messages", json=_request(stream=True))

    _assert_anthropic_error(response, 503, "overloaded_error")
    assert response.headers["retry-after"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_stream_failing_mid_way_ends_with_an_error_event(
    fake_upstream: FakeUpstream, served, kind: str
) -> None:
    gw = await served(two_streaming(fake_upstream, (kind, "openai")))
    # OpenAI: role, "Hello", " from"; Anthropic: message_start, block start, ping, "Hello", " from".
    fake_upstream.script("a", Reply.stream(drop_after=3 if kind == "openai" else 5))

    response = await gw.client.post("/v1/messages", json=_request(stream=True))

    events, _ = parse_sse(response.text)
    assert events[-1].event == "error"
    error = events[-1].json()
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "message_stop" not in [e.event for e in events]
    text = "".join(e.json()["delta"].get("text", "") for e in events if e.event == "content_block_delta")
    assert text == "Hello from"
    assert FAKE_KEY not in response.text
    assert fake_upstream.count("b") == 0
    assert gw.records[0].partial


async def test_messages_pass_the_same_cache_and_limits_gate(fake_upstream: FakeUpstream, served) -> None:
    gw = await served(two_streaming(fake_upstream, ("anthropic", "openai")))

    first = await gw.client.post("/v1/messages", json=_request(temperature=0))
    second = await gw.client.post("/v1/messages", json=_request(temperature=0))
    streamed = await gw.client.post("/v1/messages", json=_request(temperature=0, stream=True))

    assert (first.headers["x-switchyard-cache"], second.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert second.json()["content"] == first.json()["content"]
    assert second.json()["type"] == "message"
    assert streamed.headers["x-switchyard-cache"] == "hit"  # replayed as Anthropic events
    events, _ = parse_sse(streamed.text)
    assert events[0].event == "message_start" and events[-1].event == "message_stop"
    assert fake_upstream.count("a") == 1
