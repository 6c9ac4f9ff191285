"""A deterministic mock provider with injectable latency and faults (``make run`` without keys,
failover demos, tests, benchmarks).

The same request always gets the same answer (for embeddings, the same vectors:
:mod:`switchyard.providers.mock_embeddings`). Behaviour comes from :class:`MockSettings` and can be
overridden per request through ``metadata``:

- ``mock_fault``: a name of :data:`FAULTS`, optionally ``<name>@<provider>`` to fail only on that
  provider (e.g. only the first deployment of a failover chain);
- ``mock_latency_ms``, ``mock_content``, ``mock_retry_after`` (seconds, sent as ``Retry-After``);
- ``mock_tool_call``: the name of one of the request's tools to call instead of answering;
- ``mock_stream_fault``, ``mock_stream_after``, ``mock_stream_interval_ms``: faults and pacing of
  a streamed answer (see :mod:`switchyard.providers.mock_stream`).

It moderates too (``/v1/moderations``): an input containing ``mock_flag:<category>`` is flagged.

A fault is raised as the ProviderError a real provider's answer would be classified into: each one
is a canned upstream answer passed through :mod:`switchyard.providers.classify`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

import httpx

from switchyard.api.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    Choice,
    FinishReason,
    FunctionCall,
    Message,
    TextPart,
    ToolCall,
    Usage,
)
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.moderation import ModerationResult
from switchyard.api.stream import ChatCompletionChunk
from switchyard.config.routing import MockSettings
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response, classify_status, classify_transport
from switchyard.providers.mock_embeddings import mock_embeddings
from switchyard.providers.mock_stream import completion_chunks, replay, stream_fault


def _error(status: int, error_type: str, message: str) -> tuple[int, bytes]:
    body = {"error": {"type": error_type, "code": error_type, "message": message}}
    return status, json.dumps(body).encode()


# Fault name → the upstream answer that produces it.
_ANSWERS: dict[str, tuple[int, bytes]] = {
    "rate_limited": _error(429, "rate_limit_exceeded", "Mock rate limit reached."),
    "quota_exceeded": _error(429, "insufficient_quota", "Mock quota exhausted."),
    "overloaded": _error(529, "overloaded_error", "Mock overloaded."),
    "server_error": _error(500, "api_error", "Mock server error."),
    "auth": _error(401, "authentication_error", "Mock invalid key."),
    "context_length": _error(400, "context_length_exceeded", "Mock prompt exceeds the context window."),
    "content_filter": _error(400, "content_filter", "Mock content policy violation."),
    "invalid_request": _error(400, "invalid_request_error", "Mock invalid request."),
    "model_not_found": _error(404, "model_not_found", "Mock: the model does not exist."),
    "429": _error(429, "rate_limit_exceeded", "Mock rate limit reached."),
    "500": _error(500, "api_error", "Mock server error."),
    "502": _error(502, "api_error", "Mock bad gateway."),
    "503": _error(503, "service_unavailable", "Mock service unavailable."),
    "529": _error(529, "overloaded_error", "Mock overloaded."),
}
FAULTS: frozenset[str] = frozenset(_ANSWERS) | {Kind.TIMEOUT.value, Kind.BAD_RESPONSE.value}


class MockProvider:
    """The mock adapter. ``rng`` decides ``fault_rate`` draws; pass a seeded one in tests."""

    def __init__(self, settings: MockSettings | None = None, *, rng: random.Random | None = None) -> None:
        self._settings = settings or MockSettings()
        if self._settings.fault is not None and self._settings.fault not in FAULTS:
            raise ValueError(f"unknown mock fault {self._settings.fault!r}; known: {sorted(FAULTS)}")
        self._rng = rng or random.Random()

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        meta = request.metadata or {}
        await self._behave(meta, target)
        content = meta.get("mock_content")
        return _answer(request, target, self._settings.content if content is None else content)

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
        """Deterministic vectors, after the same faults and latency as ``chat``."""
        await self._behave(request.metadata or {}, target)
        return mock_embeddings(request, target)

    async def _behave(self, meta: dict[str, str], target: Target) -> None:
        """The configured or requested latency, then the fault (raised), if any."""
        fault = self._fault(meta, target)
        latency_s = self._latency_s(meta)
        if fault == Kind.TIMEOUT or latency_s >= target.timeout_s:
            # As a real call would: the client gives up once the call's budget is spent.
            await asyncio.sleep(target.timeout_s)
            raise classify_transport(httpx.ReadTimeout("mock timeout"))
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        if fault is not None:
            raise _fault_error(fault, meta)

    async def moderate(self, inputs: list[str], target: Target) -> list[ModerationResult]:
        """A moderation answer: an input containing ``mock_flag:<category>`` is flagged in that
        category (score 0.99); the configured latency and fault apply as to ``chat``."""
        fault = self._fault({}, target)
        latency_s = self._latency_s({})
        if fault == Kind.TIMEOUT or latency_s >= target.timeout_s:
            await asyncio.sleep(target.timeout_s)
            raise classify_transport(httpx.ReadTimeout("mock timeout"))
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        if fault is not None:
            raise _fault_error(fault, {})
        return [_moderated(text) for text in inputs]

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        """The answer of ``chat`` (same faults and latency before anything is sent), streamed in
        word-sized chunks with the stream faults of :mod:`mock_stream`."""
        meta = request.metadata or {}
        fault = stream_fault(meta, target, FAULTS)
        completion = await self.chat(request, target)
        chunks = completion_chunks(completion)
        async with aclosing(replay(chunks, fault, target, lambda name: _fault_error(name, meta))) as replayed:
            async for chunk in replayed:
                yield chunk

    def _fault(self, meta: dict[str, str], target: Target) -> str | None:
        requested = meta.get("mock_fault")
        if requested:
            name, _, scope = requested.partition("@")
            if not scope or scope == target.provider:
                if name not in FAULTS:
                    raise ProviderError(Kind.INVALID_REQUEST, f"Unknown mock_fault {name!r}.")
                return name
        configured = self._settings.fault
        if configured is None:
            return None
        rate = self._settings.fault_rate
        return configured if rate >= 1 or self._rng.random() < rate else None

    def _latency_s(self, meta: dict[str, str]) -> float:
        raw = meta.get("mock_latency_ms")
        if raw is None:
            return self._settings.latency_ms / 1000
        try:
            return max(0.0, float(raw)) / 1000
        except ValueError:
            raise ProviderError(Kind.INVALID_REQUEST, "mock_latency_ms must be a number.") from None


def _fault_error(name: str, meta: dict[str, str]) -> ProviderError:
    """The error a fault (other than a timeout, which takes time) is classified into."""
    if name == Kind.TIMEOUT:
        return classify_transport(httpx.ReadTimeout("mock timeout"))
    if name == Kind.BAD_RESPONSE:
        return bad_response("(mock)")
    status, body = _ANSWERS[name]
    retry_after = meta.get("mock_retry_after")
    return classify_status(status, body, {"retry-after": retry_after} if retry_after else {})


_FLAG = re.compile(r"mock_flag:([a-z_/-]+)")


def _moderated(text: str) -> ModerationResult:
    flagged = set(_FLAG.findall(text))
    return ModerationResult(
        flagged=bool(flagged),
        categories={name: True for name in sorted(flagged)},
        category_scores={name: 0.99 for name in sorted(flagged)},
    )


def _text(message: Message) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(p.text for p in content if isinstance(p, TextPart))


def _digest(request: ChatRequest, texts: list[str]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for message, text in zip(request.messages, texts, strict=True):
        h.update(f"{message.role}\x1f{text}\x1e".encode())
        for call in message.tool_calls or ():
            h.update(f"{call.function.name}\x1f{call.function.arguments}\x1e".encode())
    return h.hexdigest()


def _ceil4(chars: int) -> int:
    return -(-chars // 4)


def _answer(request: ChatRequest, target: Target, content: str | None) -> ChatCompletion:
    texts = [_text(m) for m in request.messages]
    digest = _digest(request, texts)
    tool = (request.metadata or {}).get("mock_tool_call")
    if tool and request.tools and any(t.function.name == tool for t in request.tools):
        call = ToolCall(id=f"call_{digest}", function=FunctionCall(name=tool, arguments="{}"))
        message = AssistantMessage(tool_calls=[call])
        completion_tokens, finish = _ceil4(len(tool) + 2), "tool_calls"
    else:
        if content is None:
            content = f"Mock answer {digest[:8]}: {_last_user_text(request.messages, texts)}"
        message, completion_tokens, finish = _truncated(content, request.output_limit)
    n = request.n or 1
    prompt_tokens = _ceil4(sum(len(t) for t in texts))
    return ChatCompletion(
        id=f"chatcmpl-mock-{digest}",
        created=int(time.time()),
        model=target.upstream_model,
        choices=[Choice(index=i, message=message, finish_reason=finish) for i in range(n)],
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens * n,
            total_tokens=prompt_tokens + completion_tokens * n,
        ),
    )


def _last_user_text(messages: list[Message], texts: list[str]) -> str:
    for message, text in zip(reversed(messages), reversed(texts), strict=True):
        if message.role == "user":
            return text
    return ""


def _truncated(content: str, limit: int | None) -> tuple[AssistantMessage, int, FinishReason]:
    """The answer cut to ``limit`` tokens (4 characters each), as max_tokens does upstream."""
    tokens = _ceil4(len(content))
    if limit is not None and tokens > limit:
        return AssistantMessage(content=content[: limit * 4]), limit, "length"
    return AssistantMessage(content=content), tokens, "stop"
