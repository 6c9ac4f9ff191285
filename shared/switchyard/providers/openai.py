"""The OpenAI adapter (Chat Completions and Embeddings): the canonical format goes upstream nearly
as it came in."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from pydantic import ValidationError

from switchyard.api.chat import ChatCompletion, ChatRequest, StreamOptions
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.moderation import ModerationRequest, ModerationResponse, ModerationResult
from switchyard.api.stream import ChatCompletionChunk
from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response, classify_stream_error
from switchyard.providers.embeddings import embeddings_body, parse_embeddings
from switchyard.providers.http import Upstream, base_url, post_json
from switchyard.providers.sse_http import open_sse

_BUFFERED_DROP = frozenset({"stream", "stream_options"})
OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider:
    """``POST {base}/chat/completions`` with a Bearer key. Subclasses adjust the body in ``_body``."""

    def __init__(
        self, client: Upstream, default_base_url: str = OPENAI_BASE_URL, *, stream_usage: bool = True
    ) -> None:
        self._client = client
        self._default_base_url = default_base_url
        self._stream_usage = stream_usage

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        # chat() is the buffered call: a caller's stream flag is served by stream(), never here,
        # and OpenAI rejects stream_options without stream.
        body = request.upstream_json(target.upstream_model, self._drop | _BUFFERED_DROP)
        raw = await post_json(self._client, target, self._url(target), body, self._headers(target))
        return parse_completion(raw)

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        """The upstream's own chunks, validated and kept raw. A stream that ends without ``[DONE]``
        is accepted only if a finish reason came (some servers omit the marker); otherwise it was
        cut short and raises ``bad_response``."""
        body = self._stream_body(request, target)
        finished = False
        events = open_sse(self._client, target, self._url(target), body, self._headers(target))
        async with aclosing(events):
            async for event in events:
                if event.data == b"[DONE]":
                    return
                chunk = parse_chunk(event.data, is_error=event.event == "error")
                finished = finished or any(c.finish_reason for c in chunk.choices)
                yield chunk
        if not finished:
            raise bad_response("(the stream ended before it was complete)")

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
        body = embeddings_body(request, target.upstream_model, native_base64=self._native_base64)
        raw = await post_json(
            self._client, target, self._url(target, "embeddings"), body, self._headers(target)
        )
        return parse_embeddings(raw, request)

    async def moderate(self, inputs: list[str], target: Target) -> list[ModerationResult]:
        """``POST {base}/moderations``: one result per input."""
        body = ModerationRequest(model=target.upstream_model, input=inputs).model_dump_json().encode()
        url = f"{base_url(target, self._default_base_url)}/moderations"
        raw = await post_json(self._client, target, url, body, self._headers(target))
        try:
            results = ModerationResponse.model_validate_json(raw).results
        except ValidationError as exc:
            raise bad_response("(not a moderation answer)") from exc
        if len(results) != len(inputs):
            raise bad_response("(a moderation answer with the wrong number of results)")
        return results

    def _stream_body(self, request: ChatRequest, target: Target) -> bytes:
        update: dict[str, Any] = {"stream": True}
        drop = self._drop
        if self._stream_usage:
            # Asked for whatever the caller asked, so that usage (and so cost) is exact.
            options = request.stream_options.model_dump(exclude_none=True) if request.stream_options else {}
            update["stream_options"] = StreamOptions.model_validate({**options, "include_usage": True})
        else:
            drop = drop | {"stream_options"}
        return request.model_copy(update=update).upstream_json(target.upstream_model, drop)

    def _url(self, target: Target, endpoint: str = "chat/completions") -> str:
        return f"{base_url(target, self._default_base_url)}/{endpoint}"

    def _headers(self, target: Target) -> dict[str, str]:
        # Local servers (Ollama, vLLM) have no key: then no Authorization header at all.
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        if target.headers:
            headers.update(target.headers)
        return headers

    # Fields this upstream rejects; subclasses for other dialects extend it.
    _drop: frozenset[str] = frozenset()
    # Whether the upstream answers ``encoding_format: base64`` itself.
    _native_base64 = True


def parse_chunk(data: bytes, *, is_error: bool = False) -> ChatCompletionChunk:
    """One SSE data payload as a chunk; an error object in the stream is the upstream's failure,
    classified as its error type says."""
    if is_error:
        raise classify_stream_error(data)
    try:
        chunk = ChatCompletionChunk.model_validate_json(data)
    except ValidationError as exc:
        raise bad_response("(not a chat completion chunk)") from exc
    extra = chunk.__pydantic_extra__
    if extra and "error" in extra:
        raise classify_stream_error(data)
    chunk.keep_raw(data)
    return chunk


def parse_completion(raw: bytes) -> ChatCompletion:
    """A 2xx body as a ChatCompletion; anything else is the upstream's fault (``bad_response``)."""
    try:
        completion = ChatCompletion.model_validate_json(raw)
    except ValidationError as exc:
        # The validation text quotes the body, which is not ours to show: only say what failed.
        raise bad_response("(not a chat completion)") from exc
    completion.keep_raw(raw)
    return completion
