"""OpenAIProvider.stream on httpx.MockTransport: the body sent, chunk parsing, end markers, errors
inside the stream, timeouts, and that the upstream response is closed on every path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.http import build_client
from switchyard.providers.openai import OpenAIProvider
from switchyard.providers.openai_compatible import OpenAICompatibleProvider


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-up",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
COMPLETE = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hi"}),
    chunk({"content": " there"}),
    chunk(finish="stop"),
    b"data: "
    + json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-up",
            "choices": [],
            "usage": USAGE,
        }
    ).encode()
    + b"\n\n",
    b"data: [DONE]\n\n",
]


class Body(httpx.AsyncByteStream):
    """A response body that can stall before piece ``stall_at`` and records whether it was closed."""

    def __init__(self, pieces: list[bytes], stall_at: int | None = None) -> None:
        self.pieces = pieces
        self.stall_at = stall_at
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if i == self.stall_at:
                await asyncio.Event().wait()  # silence until cancelled
            yield piece

    async def aclose(self) -> None:
        self.closed = True


class Upstream:
    def __init__(self, body: Body, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.status = status
        self.headers = {"content-type": "text/event-stream", **(headers or {})}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers, stream=self.body)

    @property
    def sent(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


def _target(idle_s: float = 5.0, timeout_s: float = 5.0) -> Target:
    return Target(
        provider="p",
        deployment_id="p/gpt-up",
        upstream_model="gpt-up",
        base_url="https://up.example/v1",
        api_key="sk-up",
        timeout_s=timeout_s,
        stream_idle_timeout_s=idle_s,
    )


def _request(**fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "public", "messages": [{"role": "user", "content": "Hi"}], **fields}
    )


async def _collect(
    upstream: Upstream,
    request: ChatRequest | None = None,
    target: Target | None = None,
    make: Callable[[httpx.AsyncClient], OpenAIProvider] = OpenAIProvider,
) -> list[ChatCompletionChunk]:
    async with build_client(httpx.MockTransport(upstream)) as client:
        stream = make(client).stream(request or _request(), target or _target())
        async with aclosing(stream):
            return [c async for c in stream]


async def test_chunks_are_parsed_and_kept_raw() -> None:
    upstream = Upstream(Body(COMPLETE))

    chunks = await _collect(upstream)

    assert [c.choices[0].delta.content for c in chunks[:3]] == ["", "Hi", " there"]
    assert chunks[3].choices[0].finish_reason == "stop"
    assert chunks[4].usage is not None and chunks[4].usage.total_tokens == 7
    assert chunks[1].to_json() == COMPLETE[1][len(b"data: ") : -2]  # the upstream's own bytes
    assert upstream.body.closed


async def test_body_asks_for_a_stream_with_usage_and_keeps_client_options() -> None:
    upstream = Upstream(Body(COMPLETE))

    await _collect(upstream, _request(stream=True, stream_options={"include_obfuscation": False}))

    sent = upstream.sent
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert sent["model"] == "gpt-up"
    request = upstream.requests[-1]
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == "Bearer sk-up"


async def test_stream_usage_off_sends_no_stream_options() -> None:
    upstream = Upstream(Body(COMPLETE))

    def compatible(client: httpx.AsyncClient) -> OpenAIProvider:
        return OpenAICompatibleProvider(client, "https://c.example/v1", stream_usage=False)

    await _collect(
        upstream, _request(stream_options={"include_usage": True}, metadata={"k": "v"}), make=compatible
    )

    assert "stream_options" not in upstream.sent
    assert "metadata" not in upstream.sent
    assert upstream.sent["stream"] is True


async def test_a_finished_stream_without_done_is_accepted() -> None:
    chunks = await _collect(Upstream(Body(COMPLETE[:-1])))
    assert chunks[-1].usage is not None


async def test_a_stream_cut_before_its_finish_is_a_bad_response() -> None:
    upstream = Upstream(Body(COMPLETE[:3]))
    with pytest.raises(ProviderError) as info:
        await _collect(upstream)
    assert info.value.kind is Kind.BAD_RESPONSE
    assert upstream.body.closed


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n', Kind.SERVER_ERROR),
        (
            b'data: {"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}}\n\n',
            Kind.RATE_LIMITED,
        ),
        (
            b'event: error\ndata: {"error": {"message": "busy", "type": "overloaded_error"}}\n\n',
            Kind.OVERLOADED,
        ),
        (b"data: {not json\n\n", Kind.BAD_RESPONSE),
    ],
)
async def test_errors_inside_the_stream_are_classified(event: bytes, kind: Kind) -> None:
    upstream = Upstream(Body([*COMPLETE[:2], event, *COMPLETE[2:]]))
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(ProviderError) as info:
        async with build_client(httpx.MockTransport(upstream)) as client:
            async for c in OpenAIProvider(client).stream(_request(), _target()):
                seen.append(c)
    assert info.value.kind is kind
    assert len(seen) == 2
    assert upstream.body.closed


async def test_error_status_is_classified_before_any_chunk() -> None:
    body = Body([json.dumps({"error": {"message": "Rate limit", "type": "requests"}}).encode()])
    upstream = Upstream(body, status=429, headers={"retry-after": "3", "content-type": "application/json"})
    with pytest.raises(ProviderError) as info:
        await _collect(upstream)
    assert info.value.kind is Kind.RATE_LIMITED
    assert info.value.retry_after == 3
    assert body.closed


@pytest.mark.parametrize(
    ("stall_at", "target", "message"),
    [
        # Before the first bytes of the body the call's own budget (timeout_s) applies...
        (0, _target(idle_s=5, timeout_s=0.05), "did not answer in time"),
        # ...after them, the idle timeout between reads.
        (2, _target(idle_s=0.05, timeout_s=5), "stopped sending for 0.05 s"),
    ],
)
async def test_silence_is_a_timeout_on_the_right_clock(stall_at: int, target: Target, message: str) -> None:
    upstream = Upstream(Body(COMPLETE, stall_at=stall_at))
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(ProviderError) as info:
        async with build_client(httpx.MockTransport(upstream)) as client:
            async for c in OpenAIProvider(client).stream(_request(), target):
                seen.append(c)
    assert info.value.kind is Kind.TIMEOUT
    assert message in info.value.message
    assert len(seen) == stall_at
    assert upstream.body.closed


async def test_closing_the_stream_early_closes_the_upstream() -> None:
    upstream = Upstream(Body(COMPLETE))
    async with build_client(httpx.MockTransport(upstream)) as client:
        stream = OpenAIProvider(client).stream(_request(), _target())
        first = await anext(stream)
        assert not upstream.body.closed
        await stream.aclose()
    assert first.choices[0].delta.role == "assistant"
    assert upstream.body.closed


async def test_cancelling_the_reader_closes_the_upstream() -> None:
    upstream = Upstream(Body(COMPLETE, stall_at=2))
    async with build_client(httpx.MockTransport(upstream)) as client:
        stream = OpenAIProvider(client).stream(_request(), _target())

        async def read_all() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(read_all())
        while not upstream.requests:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert upstream.body.closed
