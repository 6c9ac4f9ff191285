"""The mock provider's stream: deterministic chunks and injected stream faults."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.mock import MockProvider

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def _target(provider: str = "mock") -> Target:
    return Target(
        provider=provider,
        deployment_id=f"{provider}/mock-1",
        upstream_model="mock-1",
        base_url=None,
        api_key=None,
        timeout_s=5.0,
        stream_idle_timeout_s=0.02,
    )


def _req(metadata: dict[str, str] | None = None, **kw: Any) -> ChatRequest:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hello there"}],
        "metadata": metadata,
        **kw,
    }
    return ChatRequest.model_validate(body)


async def _stream(request: ChatRequest, target: Target | None = None) -> list[ChatCompletionChunk]:
    return [c async for c in MockProvider().stream(request, target or _target())]


async def test_stream_matches_the_buffered_answer() -> None:
    request = _req({"mock_content": "alpha beta gamma"})
    chunks = await _stream(request)
    completion = await MockProvider().chat(request, _target())

    assert chunks[0].choices[0].delta.role == "assistant" and not chunks[0].carries_token
    assert [c.choices[0].delta.content for c in chunks[1:4]] == ["alpha", " beta", " gamma"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == completion.usage
    assert {c.id for c in chunks} == {completion.id}


async def test_tool_call_is_streamed() -> None:
    chunks = await _stream(_req({"mock_tool_call": "lookup"}, tools=[TOOL]))
    [call] = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert call.function is not None
    assert (call.index, call.function.name, call.function.arguments) == (0, "lookup", "{}")
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("drop", Kind.BAD_RESPONSE),
        ("stall", Kind.TIMEOUT),
        ("overloaded", Kind.OVERLOADED),
        ("500", Kind.SERVER_ERROR),
    ],
)
@pytest.mark.parametrize("after", [0, 1, 3])
async def test_stream_faults_after_n_chunks(fault: str, kind: Kind, after: int) -> None:
    request = _req(
        {"mock_content": "one two three", "mock_stream_fault": fault, "mock_stream_after": str(after)}
    )
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(ProviderError) as info:
        async for chunk in MockProvider().stream(request, _target()):
            seen.append(chunk)
    assert info.value.kind is kind
    assert len(seen) == after


async def test_stream_fault_scoped_to_another_provider_does_not_fire() -> None:
    chunks = await _stream(_req({"mock_stream_fault": "drop@other"}), _target("mock"))
    assert chunks[-1].usage is not None


async def test_request_faults_still_fail_before_any_chunk() -> None:
    with pytest.raises(ProviderError) as info:
        await _stream(_req({"mock_fault": "rate_limited"}))
    assert info.value.kind is Kind.RATE_LIMITED


@pytest.mark.parametrize(
    "metadata",
    [{"mock_stream_fault": "nope"}, {"mock_stream_after": "x"}, {"mock_stream_interval_ms": "soon"}],
)
async def test_bad_stream_fault_settings_are_invalid_requests(metadata: dict[str, str]) -> None:
    with pytest.raises(ProviderError) as info:
        await _stream(_req(metadata))
    assert info.value.kind is Kind.INVALID_REQUEST
