"""What the fake upstream answers: scripted :class:`Reply` values and their wire rendering.

A :class:`Reply` is dialect-neutral; the server renders it as an OpenAI Chat Completions answer on
``/v1/chat/completions``, as an Anthropic Messages answer on ``/v1/messages`` and as an OpenAI
embeddings list on ``/v1/embeddings`` (one vector per input: :func:`fake_vector`). Usage is given as
fresh (uncached) input tokens, output tokens, cache reads and cache writes, and rendered the way
each provider reports it: OpenAI's ``prompt_tokens`` includes the cached tokens, Anthropic's
``input_tokens`` does not (the cache counts are separate fields).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Dialect = Literal["openai", "anthropic", "bedrock", "embeddings"]
# The dimensions of a fake vector when the request names none.
FAKE_DIMENSIONS = 8
ReplyKind = Literal["ok", "error", "stall", "malformed", "drop", "drop_mid_body", "stream"]

DEFAULT_CONTENT = "Hello from the fake upstream."
MALFORMED_BODY = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess'


@dataclass(frozen=True)
class ToolCallSpec:
    name: str
    arguments: Mapping[str, Any]
    id: str = "call_fake_1"


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods, not the constructor."""

    kind: ReplyKind
    status: int = 200
    content: str | None = DEFAULT_CONTENT
    tool_calls: tuple[ToolCallSpec, ...] = ()
    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_s: float = 0.0
    # error answers: OpenAI type/code/param, the Anthropic error type, and the message
    error_type: str = "api_error"
    anthropic_type: str = "api_error"
    code: str | None = None
    param: str | None = None
    message: str = ""
    body: Any = None  # a JSON body sent verbatim instead of a rendered one
    headers: Mapping[str, str] = field(default_factory=dict)
    stall_s: float = 30.0
    drop_after: int | None = None  # streams: SSE events written before the connection is dropped
    stall_after: int | None = None  # streams: SSE events written before the stream stalls
    # Web search answers (Perplexity): top-level ``citations`` and ``search_results``, and usage
    # fields beyond the token counts (search_context_size, num_search_queries, ...).
    citations: tuple[str, ...] = ()
    search_results: tuple[Mapping[str, Any], ...] = ()
    usage_extra: Mapping[str, Any] = field(default_factory=dict)
    # Bedrock streams: an exception event (e.g. "throttlingException") after this many events.
    stream_exception: str | None = None
    exception_after: int = 0
    flagged: tuple[str, ...] = ()  # moderations: the categories flagged (in every result)

    # -- success -------------------------------------------------------------------------------

    @classmethod
    def ok(
        cls,
        content: str | None = DEFAULT_CONTENT,
        *,
        tool_calls: list[ToolCallSpec] | tuple[ToolCallSpec, ...] = (),
        input_tokens: int = 11,
        output_tokens: int = 7,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        latency_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A valid completion (an SSE stream when the request asked for ``stream: true``)."""
        return cls(
            "ok",
            content=content,
            tool_calls=tuple(tool_calls),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            latency_s=latency_s,
            headers=dict(headers or {}),
        )

    @classmethod
    def stream(
        cls,
        content: str = DEFAULT_CONTENT,
        *,
        drop_after: int | None = None,
        stall_after: int | None = None,
        stall_s: float = 30.0,
        tool_calls: list[ToolCallSpec] | tuple[ToolCallSpec, ...] = (),
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> Reply:
        """An SSE stream whatever the request asked, optionally dropped or stalled after k events."""
        return cls(
            "stream",
            content=content,
            drop_after=drop_after,
            stall_after=stall_after,
            stall_s=stall_s,
            tool_calls=tuple(tool_calls),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def search(
        cls,
        content: str,
        *,
        citations: list[str] | tuple[str, ...] = (),
        search_results: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...] = (),
        usage_extra: Mapping[str, Any] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> Reply:
        """A web search answer as Perplexity gives it: OpenAI's shape plus ``citations`` (URLs the
        text's ``[n]`` markers point at), ``search_results`` and search usage. Streamed, the
        first and the finishing chunk carry citations and results, and the finishing chunk the
        usage, whether or not ``stream_options`` asked for it."""
        return cls(
            "ok",
            content=content,
            citations=tuple(citations),
            search_results=tuple(search_results),
            usage_extra=dict(usage_extra or {"search_context_size": "low"}),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def stream_exception_after(cls, events: int, exception: str, content: str = DEFAULT_CONTENT) -> Reply:
        """Bedrock: a stream that sends ``events`` events, then the named exception event."""
        return cls("stream", content=content, stream_exception=exception, exception_after=events)

    @classmethod
    def moderation(cls, *flagged: str, latency_s: float = 0.0) -> Reply:
        """A moderation answer flagging ``flagged`` categories (none: a clean result)."""
        return cls("ok", flagged=tuple(flagged), latency_s=latency_s)

    # -- failures ------------------------------------------------------------------------------

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "The fake upstream failed.",
        *,
        error_type: str = "api_error",
        anthropic_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Reply:
        """An answer with ``status`` and a JSON error body in the endpoint's dialect, or ``body``
        verbatim (which also makes e.g. a 200 whose JSON has the wrong shape)."""
        return cls(
            "error",
            status=status,
            message=message,
            error_type=error_type,
            anthropic_type=anthropic_type or error_type,
            code=code,
            param=param,
            headers=dict(headers or {}),
            body=body,
        )

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": _num(retry_after)}
        return cls.error(
            429,
            "Rate limit reached for requests per min. Please try again later.",
            error_type="requests",
            anthropic_type="rate_limit_error",
            code="rate_limit_exceeded",
            headers=headers,
        )

    @classmethod
    def insufficient_quota(cls) -> Reply:
        return cls.error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            error_type="insufficient_quota",
            anthropic_type="rate_limit_error",
            code="insufficient_quota",
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls.error(
            status, "The server had an error while processing your request.", error_type="server_error"
        )

    @classmethod
    def overloaded(cls, status: int = 529) -> Reply:
        """Anthropic's 529 ``overloaded_error`` (or a 503 with ``status=503``)."""
        return cls.error(status, "Overloaded", error_type="overloaded_error")

    @classmethod
    def unauthorized(cls, status: int = 401) -> Reply:
        """401 whose message echoes the key it was sent, as real providers do (masked there)."""
        return cls.error(
            status,
            "Incorrect API key provided: {api_key}.",
            error_type="invalid_request_error",
            anthropic_type="authentication_error",
            code="invalid_api_key",
        )

    @classmethod
    def context_length_exceeded(cls) -> Reply:
        return cls.error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages resulted in "
            "9000 tokens. Please reduce the length of the messages.",
            error_type="invalid_request_error",
            code="context_length_exceeded",
            param="messages",
        )

    @classmethod
    def content_filter(cls) -> Reply:
        return cls.error(
            400,
            "The response was filtered due to the prompt triggering the content management policy.",
            error_type="invalid_request_error",
            code="content_filter",
            param="prompt",
        )

    @classmethod
    def model_not_found(cls, model: str = "up-a") -> Reply:
        """404 for a model the upstream does not serve (OpenAI's ``model_not_found``; Anthropic's
        ``not_found_error`` "model: …")."""
        return cls.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            error_type="invalid_request_error",
            anthropic_type="not_found_error",
            code="model_not_found",
            param="model",
        )

    @classmethod
    def bad_request(cls) -> Reply:
        """A generic 400 that is none of the refined kinds (no context/quota/filter markers)."""
        return cls.error(
            400,
            "Invalid value for 'logit_bias': unsupported with this model.",
            error_type="invalid_request_error",
            code="invalid_value",
            param="logit_bias",
        )

    @classmethod
    def stall(cls, seconds: float = 30.0) -> Reply:
        """Accept the request, say nothing for ``seconds`` (or until the server stops), then close."""
        return cls("stall", stall_s=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        """200 ``application/json`` with a truncated JSON body."""
        return cls("malformed")

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection without sending a response."""
        return cls("drop")

    @classmethod
    def drop_mid_body(cls) -> Reply:
        """Send the status line, headers and part of the body, then close the connection."""
        return cls("drop_mid_body")


def _num(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


# -- rendering -------------------------------------------------------------------------------------


def error_body(reply: Reply, dialect: Dialect, *, api_key: str) -> Any:
    if reply.body is not None:
        return reply.body
    message = reply.message.replace("{api_key}", api_key)
    if dialect == "anthropic":
        return {"type": "error", "error": {"type": reply.anthropic_type, "message": message}}
    return {"error": {"message": message, "type": reply.error_type, "param": reply.param, "code": reply.code}}


def fake_vector(text: str, dimensions: int = FAKE_DIMENSIONS) -> list[float]:
    """The fake's vector for an input (its JSON text for a token array): the same every time,
    and exactly representable as float32, so its base64 form decodes to the same numbers."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % 32] - 128) / 128 for i in range(dimensions)]


def embeddings_body(reply: Reply, body: Any, *, model: str) -> dict[str, Any]:
    """One embedding per input of the request ``body``; ``reply.input_tokens`` as its usage."""
    request = body if isinstance(body, dict) else {}
    raw = request.get("input", "")
    items = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw)
    dimensions = request.get("dimensions") or FAKE_DIMENSIONS
    data = []
    for index, item in enumerate(items):
        vector = fake_vector(item if isinstance(item, str) else json.dumps(item), dimensions)
        encoded: Any = vector
        if request.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": reply.input_tokens, "total_tokens": reply.input_tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


_CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")


def moderation_body(reply: Reply, count: int) -> dict[str, Any]:
    """OpenAI's moderation answer: one result per input, each flagging ``reply.flagged``."""
    names = sorted({*_CATEGORIES, *reply.flagged})
    result = {
        "flagged": bool(reply.flagged),
        "categories": {name: name in reply.flagged for name in names},
        "category_scores": {name: 0.97 if name in reply.flagged else 0.001 for name in names},
    }
    return {"id": "modr-fake", "model": "omni-moderation-latest", "results": [result] * count}


def completion_body(reply: Reply, dialect: Dialect, *, model: str, seq: int) -> dict[str, Any]:
    if dialect == "anthropic":
        return _anthropic_message(reply, model=model, seq=seq)
    return _openai_completion(reply, model=model, seq=seq)


def _openai_usage(reply: Reply) -> dict[str, Any]:
    prompt = reply.input_tokens + reply.cache_read_tokens + reply.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens},
        **reply.usage_extra,
    }


def _search_fields(reply: Reply) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if reply.citations:
        fields["citations"] = list(reply.citations)
    if reply.search_results:
        fields["search_results"] = [dict(r) for r in reply.search_results]
    return fields


def _openai_tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": tc.id,
            "type": "function",
            "function": {"name": tc.name, "arguments": json.dumps(dict(tc.arguments))},
        }
        for tc in reply.tool_calls
    ]


def _openai_completion(reply: Reply, *, model: str, seq: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = _openai_tool_calls(reply)
    return {
        "id": f"chatcmpl-fake-{seq}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _openai_usage(reply),
        "system_fingerprint": "fp_fake",
        **_search_fields(reply),
    }


def _anthropic_usage(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cache_read_tokens,
    }


def _anthropic_message(reply: Reply, *, model: str, seq: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.content:
        content.append({"type": "text", "text": reply.content})
    content.extend(
        {"type": "tool_use", "id": tc.id, "name": tc.name, "input": dict(tc.arguments)}
        for tc in reply.tool_calls
    )
    return {
        "id": f"msg_fake_{seq}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply),
    }


def _pieces(text: str | None) -> list[str]:
    """Split text into word-sized chunks that concatenate back to it."""
    if not text:
        return []
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]


def sse_events(
    reply: Reply, dialect: Dialect, *, model: str, seq: int, include_usage: bool
) -> Iterator[bytes]:
    """The SSE events of a streamed answer, one encoded event per item."""
    if dialect == "anthropic":
        yield from _anthropic_events(reply, model=model, seq=seq)
    elif reply.citations or reply.search_results:
        yield from _search_events(reply, model=model, seq=seq)
    else:
        yield from _openai_events(reply, model=model, seq=seq, include_usage=include_usage)


def _data(obj: Any) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def _openai_events(reply: Reply, *, model: str, seq: int, include_usage: bool) -> Iterator[bytes]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _data(
            {
                "id": f"chatcmpl-fake-{seq}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.content):
        yield chunk({"content": piece})
    for index, tc in enumerate(_openai_tool_calls(reply)):
        yield chunk({"tool_calls": [{"index": index, **tc}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if include_usage:
        yield _data(
            {
                "id": f"chatcmpl-fake-{seq}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _openai_usage(reply),
            }
        )
    yield b"data: [DONE]\n\n"


def _search_events(reply: Reply, *, model: str, seq: int) -> Iterator[bytes]:
    """Perplexity's stream: OpenAI chunks, with citations and search results on the first and the
    finishing chunk, and usage on the finishing chunk (no separate usage chunk)."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = {
            "id": f"pplx-fake-{seq}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
            **extra,
        }
        return _data(obj)

    pieces = _pieces(reply.content) or [""]
    yield chunk({"role": "assistant", "content": pieces[0]}, **_search_fields(reply))
    for piece in pieces[1:]:
        yield chunk({"content": piece})
    yield chunk({}, "stop", usage=_openai_usage(reply), **_search_fields(reply))
    yield b"data: [DONE]\n\n"


def _event(name: str, obj: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()


def _anthropic_events(reply: Reply, *, model: str, seq: int) -> Iterator[bytes]:
    start_usage = {**_anthropic_usage(reply), "output_tokens": 1}
    message = {
        "id": f"msg_fake_{seq}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    yield _event("message_start", {"type": "message_start", "message": message})
    index = 0
    if reply.content:
        block = {"type": "text", "text": ""}
        yield _event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        )
        yield _event("ping", {"type": "ping"})
        for piece in _pieces(reply.content):
            delta = {"type": "text_delta", "text": piece}
            yield _event(
                "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    for tc in reply.tool_calls:
        block = {"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}}
        yield _event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        )
        delta = {"type": "input_json_delta", "partial_json": json.dumps(dict(tc.arguments))}
        yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    stop = "tool_use" if reply.tool_calls else "end_turn"
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})
