"""``stream: true`` on /v1/chat/completions (ASGI app + fake upstream): the OpenAI chunk format from
every provider kind, failover before the first token, error events after it, usage and cost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from streaming_checks import (
    MESSAGES,
    WEATHER_TOOL,
    ServedFactory,
    content_of,
    cost_of,
    openai_stream,
    serving,
    two_streaming,
    wait_for,
)

from fakes import DEFAULT_CONTENT, FAKE_KEY, FakeUpstream, Reply, ToolCallSpec

PRICE = {"input": 1.0, "output": 2.0, "cached_input": 0.1, "cache_write": 1.25}


@pytest.fixture
async def served(config_file) -> AsyncIterator[ServedFactory]:
    async with serving(config_file) as make:
        yield make


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": MESSAGES, "stream": True, **fields}


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "anthropic"])
async def test_stream_in_openai_chunks_with_usage(fake_upstream: FakeUpstream, served, kind: str) -> None:
    config = fake_upstream.routing_config(
        providers={"a": kind},
        models={"m": {"deployments": [{"provider": "a", "model": "up-a", "price": PRICE}]}},
    )
    gw = await served(config)
    fake_upstream.script("a", Reply.ok(input_tokens=10, output_tokens=7, cache_read_tokens=4))

    response = await gw.client.post(
        "/v1/chat/completions", json=_body(stream_options={"include_usage": True})
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-request-id"]
    assert response.headers["x-switchyard-provider"] == "a"
    assert response.headers["x-switchyard-deployment"] == "a/up-a"
    assert response.headers["x-switchyard-attempts"] == "1"
    assert "x-switchyard-cost-usd" not in response.headers  # known only at the end
    chunks, done, error = openai_stream(response.text)
    assert done and error is None
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_of(chunks) == DEFAULT_CONTENT
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (14, 7)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 4
    # 10 fresh input at $1, 4 cached at $0.1, 7 output at $2 per 1M tokens.
    expected = Decimal("0.0000244")
    assert Decimal(cost_of(response.text)) == expected
    [record] = gw.records
    assert (record.streamed, record.partial, record.estimated) == (True, False, False)
    assert record.cost_usd == expected
    [call] = fake_upstream.calls("a")
    assert call.body["stream"] is True
    assert call.api_key == FAKE_KEY
    if kind != "anthropic":
        assert call.body["stream_options"] == {"include_usage": True}


async def test_usage_is_asked_upstream_but_only_sent_when_the_client_asked(
    fake_upstream: FakeUpstream, served
) -> None:
    gw = await served(two_streaming(fake_upstream))

    response = await gw.client.post("/v1/chat/completions", json=_body())

    chunks, done, _ = openai_stream(response.text)
    assert done
    assert all(c.get("usage") is None for c in chunks)
    assert fake_upstream.calls("a")[0].body["stream_options"] == {"include_usage": True}
    assert gw.records[0].usage.completion_tokens == 7  # the upstream's exact count was accounted


async def test_provider_flag_turns_stream_options_off_and_usage_is_estimated(
    fake_upstream: FakeUpstream, served
) -> None:
    config = fake_upstream.routing_config(
        providers={"a": {"kind": "openai_compatible", "stream_usage": False}},
        models={"m": {"deployments": [{"provider": "a", "model": "up-a"}]}},
    )
    gw = await served(config)

    response = await gw.client.post(
        "/v1/chat/completions", json=_body(stream_options={"include_usage": True})
    )

    chunks, done, _ = openai_stream(response.text)
    assert done
    assert "stream_options" not in fake_upstream.calls("a")[0].body
    # The client still gets the usage it asked for: the gateway's estimate, also what it accounted.
    assert chunks[-1]["usage"]["completion_tokens"] == -(-len(DEFAULT_CONTENT) // 4)
    assert gw.records[0].estimated


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_tool_call_deltas(fake_upstream: FakeUpstream, served, kind: str) -> None:
    gw = await served(two_streaming(fake_upstream, (kind, "openai")))
    call = ToolCallSpec("get_weather", {"city": "Paris"}, id="call_1")
    fake_upstream.script("a", Reply.ok(None, tool_calls=[call]))

    response = await gw.client.post("/v1/chat/completions", json=_body(tools=[WEATHER_TOOL]))

    chunks, done, _ = openai_stream(response.text)
    assert done
    deltas = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert deltas[0]["id"] == "call_1"
    assert deltas[0]["function"]["name"] == "get_weather"
    assert {d["index"] for d in deltas} == {0}
    assert json.loads("".join(d["function"].get("arguments") or "" for d in deltas)) == {"city": "Paris"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


# Failures before the first token: (reply for "a" every time, calls "a" gets before failing over).
BEFORE_FIRST_TOKEN = {
    "429": (Reply.rate_limited(retry_after=0), 3),  # waits Retry-After twice, then fails over
    "500": (Reply.server_error(500), 2),  # one retry, then fails over
    "529": (Reply.overloaded(529), 1),
    "drop_before_headers": (Reply.drop(), 1),
    "drop_after_role_chunk": (Reply.stream(drop_after=1), 1),
    "stall_after_role_chunk": (Reply.stream(stall_after=1), 1),  # the 0.3 s idle timeout
    # Headers but no body: the call's own timeout (timeout_s) bounds the wait for the first bytes.
    "stall_before_any_chunk": (Reply.stream(stall_after=0), 1),
}


@pytest.mark.parametrize("failure", BEFORE_FIRST_TOKEN)
async def test_failover_before_the_first_token(fake_upstream: FakeUpstream, served, failure: str) -> None:
    reply, calls = BEFORE_FIRST_TOKEN[failure]
    gw = await served(two_streaming(fake_upstream, a_timeout_s=0.5))
    fake_upstream.set_default("a", reply)

    response = await gw.client.post("/v1/chat/completions", json=_body())

    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == "b"
    assert response.headers["x-switchyard-attempts"] == str(calls + 1)
    chunks, done, error = openai_stream(response.text)
    assert done and error is None
    assert content_of(chunks) == DEFAULT_CONTENT
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (calls, 1)


async def test_every_candidate_failing_before_the_first_token_is_an_http_error(
    fake_upstream: FakeUpstream, served
) -> None:
    gw = await served(two_streaming(fake_upstream))
    fake_upstream.set_default("a", Reply.overloaded(529))
    fake_upstream.set_default("b", Reply.stream(drop_after=1))

    response = await gw.client.post("/v1/chat/completions", json=_body())

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"]
    assert response.json()["error"]["type"] == "service_unavailable"
    assert gw.records == []  # nothing was served


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [(Reply.stream(drop_after=3), "api_error"), (Reply.stream(stall_after=3), "timeout_error")],
    ids=["drop", "stall"],
)
async def test_failure_after_the_first_token_ends_with_an_error_event(
    fake_upstream: FakeUpstream, served, reply: Reply, error_type: str
) -> None:
    gw = await served(two_streaming(fake_upstream))
    fake_upstream.script("a", reply)

    response = await gw.client.post("/v1/chat/completions", json=_body())

    assert response.status_code == 200
    chunks, done, error = openai_stream(response.text)
    assert content_of(chunks) == "Hello from"  # role chunk, then two words, then the failure
    assert not done, "a failed stream must not look complete"
    assert error is not None
    assert error["type"] == error_type
    assert "interrupted" in error["message"]
    assert FAKE_KEY not in response.text and str(fake_upstream.port) not in response.text
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 0)  # never retried
    [record] = gw.records
    assert record.partial and record.estimated
    assert record.usage.completion_tokens == -(-len("Hello from") // 4)
    # The gateway closed the stalled upstream connection rather than waiting it out.
    await wait_for(lambda: bool(fake_upstream.stream_ends("a")))
    assert fake_upstream.stream_ends("a") == ["dropped" if error_type == "api_error" else "client_closed"]


async def test_mid_stream_failures_count_against_the_breaker_and_as_errors(
    fake_upstream: FakeUpstream, served
) -> None:
    config = two_streaming(fake_upstream, breaker={"failure_threshold": 2, "window_s": 30, "cooldown_s": 30})
    gw = await served(config)
    fake_upstream.set_default("a", Reply.stream(drop_after=3))
    failed: list[str] = []
    gw.gateway.metrics.requests.stream_failed = lambda exc, status: failed.append(f"{exc.kind}/{status}")

    for _ in range(2):
        response = await gw.client.post("/v1/chat/completions", json=_body())
        assert openai_stream(response.text)[2] is not None
    assert failed == ["bad_response/502"] * 2  # counted as errors, though the responses were 200
    response = await gw.client.post("/v1/chat/completions", json=_body())

    assert response.headers["x-switchyard-provider"] == "b"  # a's breaker is open: skipped
    assert fake_upstream.count("a") == 2


async def test_mock_provider_streams_and_injects_mid_stream_faults(
    fake_upstream: FakeUpstream, served
) -> None:
    config = fake_upstream.routing_config(
        providers={"x": {"kind": "mock", "stream_idle_timeout_s": 0.2}},
        models={"m": {"deployments": [{"provider": "x", "model": "mock-1"}]}},
    )
    gw = await served(config)
    ok = await gw.client.post("/v1/chat/completions", json=_body(metadata={"mock_content": "one two three"}))
    failed = await gw.client.post(
        "/v1/chat/completions",
        json=_body(
            metadata={"mock_content": "one two three", "mock_stream_fault": "stall", "mock_stream_after": "3"}
        ),
    )

    chunks, done, _ = openai_stream(ok.text)
    assert done and content_of(chunks) == "one two three"
    chunks, done, error = openai_stream(failed.text)
    assert not done and content_of(chunks) == "one two"
    assert error is not None and error["type"] == "timeout_error"


async def test_stream_flag_on_an_invalid_request_is_still_a_400(fake_upstream: FakeUpstream, served) -> None:
    gw = await served(two_streaming(fake_upstream))

    response = await gw.client.post("/v1/chat/completions", json=_body(temperature=5))

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"
    assert fake_upstream.count() == 0
