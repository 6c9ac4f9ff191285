"""Anthropic Messages events → canonical chunks: AnthropicStream alone, and AnthropicProvider.stream
on httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.errors import Kind, ProviderError
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.anthropic_stream import AnthropicStream
from switchyard.providers.base import Target
from switchyard.providers.http import build_client
from switchyard.providers.sse import SSEEvent


def ev(kind: str, **payload: Any) -> SSEEvent:
    return SSEEvent(kind, json.dumps({"type": kind, **payload}).encode())


START = ev(
    "message_start",
    message={
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-up-20250101",
        "content": [],
        "stop_reason": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 1,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2,
        },
    },
)
EVENTS = [
    START,
    ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
    ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Hmm."}),
    ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "sig"}),
    ev("content_block_stop", index=0),
    ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
    SSEEvent("ping", b'{"type": "ping"}'),
    ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "Let me "}),
    ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "check."}),
    ev("content_block_stop", index=1),
    ev(
        "content_block_start",
        index=2,
        content_block={"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ),
    ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"city": '}),
    ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '"Paris"}'}),
    ev("content_block_stop", index=2),
    ev(
        "content_block_start",
        index=3,
        content_block={"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
    ),
    ev("content_block_delta", index=3, delta={"type": "input_json_delta", "partial_json": "{}"}),
    ev("content_block_stop", index=3),
    ev(
        "message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None}, usage={"output_tokens": 30}
    ),
    ev("message_stop"),
]


def _translate(events: list[SSEEvent]) -> list[ChatCompletionChunk]:
    stream = AnthropicStream()
    return [c for e in events if (c := stream.feed(e)) is not None]


def test_full_sequence_translates_to_openai_chunks() -> None:
    chunks = _translate(EVENTS)

    assert all(c.id == "msg_01" and c.model == "claude-up-20250101" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."  # thinking dropped, as in the buffered translation
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [(tc.index, tc.id) for tc in calls if tc.id] == [(0, "toolu_1"), (1, "toolu_2")]
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.index == 0 and tc.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    # prompt_tokens counts cache reads and writes (OpenAI semantics); output from message_delta.
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (16, 30, 46)
    assert usage.cached_tokens == 4
    assert usage.cache_creation_input_tokens == 2


def test_the_first_token_is_the_first_text_not_the_role_chunk() -> None:
    chunks = _translate(EVENTS)
    assert not chunks[0].carries_token
    assert chunks[1].carries_token


def test_error_event_is_classified() -> None:
    stream = AnthropicStream()
    stream.feed(START)
    error = SSEEvent(
        "error", b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    )
    with pytest.raises(ProviderError) as info:
        stream.feed(error)
    assert info.value.kind is Kind.OVERLOADED


def test_end_without_message_stop() -> None:
    complete = AnthropicStream()
    for event in EVENTS[:-1]:
        complete.feed(event)
    assert complete.end().usage is not None
    cut = AnthropicStream()
    for event in EVENTS[:9]:
        cut.feed(event)
    with pytest.raises(ProviderError) as info:
        cut.end()
    assert info.value.kind is Kind.BAD_RESPONSE


def test_unknown_events_are_ignored_and_garbage_is_a_bad_response() -> None:
    stream = AnthropicStream()
    assert stream.feed(ev("something_new", detail=1)) is None
    with pytest.raises(ProviderError) as info:
        stream.feed(SSEEvent("content_block_delta", b"{oops"))
    assert info.value.kind is Kind.BAD_RESPONSE


def _wire(events: list[SSEEvent]) -> bytes:
    return b"".join(b"event: " + (e.event or "").encode() + b"\ndata: " + e.data + b"\n\n" for e in events)


async def test_provider_streams_over_http() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_wire(EVENTS))

    request = ChatRequest.model_validate(
        {
            "model": "claude",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "stream": True,
        }
    )
    target = Target(
        provider="c",
        deployment_id="c/claude-up",
        upstream_model="claude-up",
        base_url=None,
        api_key="sk-ant-x",
        timeout_s=5,
    )
    async with build_client(httpx.MockTransport(handler)) as client:
        chunks = [c async for c in AnthropicProvider(client).stream(request, target)]

    sent = json.loads(requests[0].content)
    assert sent["stream"] is True
    assert sent["system"] == "Be brief."
    assert sent["model"] == "claude-up"
    assert requests[0].headers["x-api-key"] == "sk-ant-x"
    assert str(requests[0].url) == "https://api.anthropic.com/v1/messages"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 30


async def test_provider_error_status_before_the_stream() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return httpx.Response(529, json=body)

    request = ChatRequest.model_validate({"model": "claude", "messages": [{"role": "user", "content": "Hi"}]})
    target = Target(
        provider="c", deployment_id="c/x", upstream_model="x", base_url=None, api_key=None, timeout_s=5
    )
    async with build_client(httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderError) as info:
            _ = [c async for c in AnthropicProvider(client).stream(request, target)]
    assert info.value.kind is Kind.OVERLOADED
