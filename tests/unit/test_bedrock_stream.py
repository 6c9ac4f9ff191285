"""ConverseStream on httpx.MockTransport: the binary event stream decoded however its bytes are
split, frames that fail their checksum, exception events, cut streams; and the SigV4 signer's
credentials."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from fakes.bedrock import exception_frame, frame
from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.errors import Kind, ProviderError
from switchyard.providers import aws_sigv4
from switchyard.providers.aws_sigv4 import SigV4Signer
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.http import build_client

REQUEST = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})
TARGET = Target("br", "br/m", "amazon.nova-lite-v1:0", "https://bedrock.test", None, timeout_s=5)


def event(kind: str, **payload: Any) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps({**payload, "p": "abc"}).encode())


FRAMES = [
    event("messageStart", role="assistant"),
    event("contentBlockDelta", contentBlockIndex=0, delta={"text": "Hello "}),
    event("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"text": "hmm"}}),
    event("contentBlockDelta", contentBlockIndex=0, delta={"text": "world."}),
    event("contentBlockStop", contentBlockIndex=0),
    event("contentBlockStart", contentBlockIndex=1, start={"toolUse": {"toolUseId": "tu_1", "name": "f"}}),
    event("contentBlockDelta", contentBlockIndex=1, delta={"toolUse": {"input": '{"a": '}}),
    event("contentBlockDelta", contentBlockIndex=1, delta={"toolUse": {"input": "1}"}}),
    event("contentBlockStop", contentBlockIndex=1),
    event("messageStop", stopReason="tool_use"),
    event("metadata", usage={"inputTokens": 5, "outputTokens": 9, "cacheReadInputTokens": 2}, metrics={}),
]


class _Body(httpx.AsyncByteStream):
    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = list(pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def provider(
    pieces: Iterable[bytes], status: int = 200, headers: dict[str, str] | None = None
) -> BedrockProvider:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=headers or {}, stream=_Body(pieces))

    signer = SigV4Signer("bedrock", "us-east-1", {}, credentials=Credentials("AKID", "secret"))
    adapter = BedrockProvider(build_client(httpx.MockTransport(handler)), "us-east-1", signer)
    adapter.seen = seen  # type: ignore[attr-defined]
    return adapter


async def collect(adapter: BedrockProvider) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in adapter.stream(REQUEST, TARGET)]


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
async def test_frames_are_decoded_however_the_bytes_arrive(size: int) -> None:
    chunks = await collect(provider(split(b"".join(FRAMES), size)))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello world."
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id == "tu_1" and calls[0].index == 0
    assert "".join(tc.function.arguments or "" for tc in calls if tc.function) == '{"a": 1}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.cached_tokens) == (7, 2)
    assert all(c.model == "amazon.nova-lite-v1:0" for c in chunks)


async def test_the_request_is_signed_and_asks_for_the_event_stream() -> None:
    adapter = provider(FRAMES)
    await collect(adapter)
    [request] = adapter.seen  # type: ignore[attr-defined]
    assert request.url.raw_path == b"/model/amazon.nova-lite-v1:0/converse-stream"
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "x-amz-date" in request.headers


async def test_a_frame_that_fails_its_checksum_is_a_bad_response() -> None:
    corrupt = bytearray(FRAMES[1])
    corrupt[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    with pytest.raises(ProviderError) as failed:
        await collect(provider([FRAMES[0], bytes(corrupt), *FRAMES[2:]]))
    assert failed.value.kind is Kind.BAD_RESPONSE


async def test_an_exception_event_is_raised_as_its_kind() -> None:
    pieces = [*FRAMES[:2], exception_frame("throttlingException", "Slow down")]
    received: list[ChatCompletionChunk] = []
    with pytest.raises(ProviderError) as failed:
        async for chunk in provider(pieces).stream(REQUEST, TARGET):
            received.append(chunk)
    assert failed.value.kind is Kind.RATE_LIMITED
    assert len(received) == 2  # what came before the exception was handed on


async def test_a_stream_without_its_stop_event_was_cut_short() -> None:
    with pytest.raises(ProviderError) as failed:
        await collect(provider(FRAMES[:4]))
    assert failed.value.kind is Kind.BAD_RESPONSE


async def test_a_stream_without_metadata_still_ends_after_its_stop_event() -> None:
    chunks = await collect(provider(FRAMES[:-1]))
    assert chunks[-1].choices[0].finish_reason == "tool_calls"  # usage will be estimated


async def test_an_error_status_is_classified_from_bedrocks_header() -> None:
    body = json.dumps({"message": "Rate exceeded"}).encode()
    adapter = provider([body], status=429, headers={"x-amzn-ErrorType": "ThrottlingException:ns"})
    with pytest.raises(ProviderError) as failed:
        await collect(adapter)
    assert failed.value.kind is Kind.RATE_LIMITED


def test_the_frame_encoder_of_the_fake_writes_valid_crcs() -> None:
    data = FRAMES[0]
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(data[:-4])


# -- the signer ------------------------------------------------------------------------------------


async def test_credentials_come_from_the_environment_the_settings_read() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}
    headers = await SigV4Signer("bedrock", "eu-west-1", env).sign("POST", "https://h/x", b"{}", {"a": "b"})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDENV/")
    assert "/eu-west-1/bedrock/aws4_request" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "tok" and headers["a"] == "b"


async def test_without_credentials_the_call_fails_over_as_an_auth_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[bool] = []

    def nothing() -> None:
        looked_up.append(True)  # botocore's chain would look at files and metadata endpoints

    monkeypatch.setattr(aws_sigv4, "_default_chain", nothing)
    signer = SigV4Signer("bedrock", "us-east-1", {})
    with pytest.raises(ProviderError) as failed:
        await signer.sign("POST", "https://h/x", b"", {})
    assert failed.value.kind is Kind.AUTH
    assert looked_up == [True]


def test_a_region_that_is_not_one_fails_the_cold_start() -> None:
    with pytest.raises(ValueError, match="not an AWS region"):
        BedrockProvider.for_region(
            build_client(httpx.MockTransport(lambda r: httpx.Response(200))), "evil.com/x", {}
        )
