"""The mock provider's stream: its deterministic answer cut into chunks, with injectable faults.

Per-request ``metadata`` (all optional):

- ``mock_stream_fault``: ``drop`` (the connection breaks), ``stall`` (the upstream goes silent
  until the idle timeout) or any name of :data:`switchyard.providers.mock.FAULTS` (an error event
  inside the stream), optionally ``<name>@<provider>`` as for ``mock_fault``;
- ``mock_stream_after``: chunks sent before the fault (default 0: before anything, so the attempt
  loop still fails over; 1 is after the role chunk, still before the first token; 2 and more is
  mid-answer, where the client gets an error event);
- ``mock_stream_interval_ms``: a pause between chunks, for demos of a slow stream.

Faults surface as the ProviderError the real adapters would raise for the same upstream behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from switchyard.api.chat import ChatCompletion
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.classify import classify_transport
from switchyard.providers.sse_http import stream_timeout

STREAM_ONLY_FAULTS = frozenset({"drop", "stall"})


@dataclass(frozen=True, slots=True)
class StreamFault:
    name: str | None = None
    after: int = 0
    interval_s: float = 0.0


def stream_fault(meta: dict[str, str], target: Target, known: frozenset[str]) -> StreamFault:
    """The stream fault a request asks for on this provider. Raises ProviderError
    (invalid_request) for an unknown name or a malformed number."""
    name: str | None = None
    requested = meta.get("mock_stream_fault")
    if requested:
        fault, _, scope = requested.partition("@")
        if fault not in known and fault not in STREAM_ONLY_FAULTS:
            raise ProviderError(Kind.INVALID_REQUEST, f"Unknown mock_stream_fault {fault!r}.")
        if not scope or scope == target.provider:
            name = fault
    try:
        after = int(meta.get("mock_stream_after", "0"))
        interval_s = float(meta.get("mock_stream_interval_ms", "0")) / 1000
    except ValueError:
        raise ProviderError(
            Kind.INVALID_REQUEST, "mock_stream_after and mock_stream_interval_ms must be numbers."
        ) from None
    return StreamFault(name, max(0, after), max(0.0, interval_s))


def completion_chunks(completion: ChatCompletion) -> list[ChatCompletionChunk]:
    """The chunks an OpenAI upstream would stream for ``completion``: role, words, tool calls,
    finish reason, then usage. Every choice (``n``) gets the first choice's deltas."""
    indexes = [c.index for c in completion.choices]

    def chunk(delta: Delta | None, finish: str | None = None) -> ChatCompletionChunk:
        choices = [ChunkChoice(index=i, delta=delta or Delta(), finish_reason=finish) for i in indexes]
        return ChatCompletionChunk(
            id=completion.id, created=completion.created, model=completion.model, choices=choices
        )

    first = completion.choices[0]
    chunks = [chunk(Delta(role="assistant", content=""))]
    chunks.extend(chunk(Delta(content=piece)) for piece in _pieces(first.message.content))
    for n, call in enumerate(first.message.tool_calls or ()):
        fn = FunctionCallDelta(name=call.function.name, arguments=call.function.arguments)
        chunks.append(
            chunk(Delta(tool_calls=[ToolCallDelta(index=n, id=call.id, type="function", function=fn)]))
        )
    chunks.append(chunk(None, first.finish_reason))
    chunks.append(
        ChatCompletionChunk(
            id=completion.id, created=completion.created, model=completion.model, usage=completion.usage
        )
    )
    return chunks


async def replay(
    chunks: list[ChatCompletionChunk],
    fault: StreamFault,
    target: Target,
    fail: Callable[[str], ProviderError],
) -> AsyncGenerator[ChatCompletionChunk]:
    """Yield ``chunks`` with the requested pacing; raise the fault after ``fault.after`` chunks.
    ``fail`` turns a provider fault name into its ProviderError."""
    for sent, chunk in enumerate(chunks):
        if fault.name is not None and sent >= fault.after:
            await _raise(fault.name, target, fail)
        if fault.interval_s and sent:
            await asyncio.sleep(fault.interval_s)
        yield chunk


async def _raise(name: str, target: Target, fail: Callable[[str], ProviderError]) -> None:
    if name == "drop":
        raise classify_transport(httpx.ReadError("mock stream dropped"))
    if name == "stall":
        # As the SSE reader would: silence until the idle timeout, then a timeout.
        await asyncio.sleep(target.stream_idle_timeout_s)
        raise stream_timeout(target, started=True)
    raise fail(name)


def _pieces(text: str | None) -> list[str]:
    """Word-sized pieces that concatenate back to ``text``."""
    if not text:
        return []
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]
