"""The Anthropic Messages API adapter; the translation itself is in :mod:`anthropic_wire`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from pydantic import ValidationError
from pydantic_core import to_json

from switchyard.api.anthropic import AnthropicResponse
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.stream import ChatCompletionChunk
from switchyard.providers.anthropic_stream import AnthropicStream
from switchyard.providers.anthropic_wire import from_anthropic_response, to_anthropic_request
from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response
from switchyard.providers.embeddings import no_embeddings
from switchyard.providers.http import Upstream, base_url, post_json
from switchyard.providers.sse_http import open_sse

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider:
    """``POST {base}/v1/messages`` with ``x-api-key``.

    Besides ProviderError, ``chat`` raises InvalidRequestError before any call when the request
    asks for what Anthropic cannot do (n > 1, malformed tool-call arguments, audio parts...).
    """

    def __init__(self, client: Upstream, default_base_url: str = ANTHROPIC_BASE_URL) -> None:
        self._client = client
        self._default_base_url = default_base_url

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        body = to_anthropic_request(request, target.upstream_model)
        raw = await post_json(self._client, target, self._url(target), body, self._headers(target))
        try:
            message = AnthropicResponse.model_validate_json(raw)
        except ValidationError as exc:
            # The validation text quotes the body, which is not ours to show: only say what failed.
            raise bad_response("(not an Anthropic message)") from exc
        return from_anthropic_response(message)

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        """Anthropic's events as canonical chunks (see :mod:`anthropic_stream`)."""
        body = to_anthropic_request(request, target.upstream_model)
        body["stream"] = True
        translation = AnthropicStream()
        events = open_sse(self._client, target, self._url(target), to_json(body), self._headers(target))
        async with aclosing(events):
            async for event in events:
                chunk = translation.feed(event)
                if chunk is not None:
                    yield chunk
                if translation.done:
                    return
        yield translation.end()

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
        """Anthropic has no embeddings API: ``model_not_found``, and the next deployment."""
        raise no_embeddings(target.provider)

    def _url(self, target: Target) -> str:
        base = base_url(target, self._default_base_url)
        # A base URL configured with the version path, as for OpenAI, must not give /v1/v1.
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def _headers(self, target: Target) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if target.api_key:
            headers["x-api-key"] = target.api_key
        if target.headers:
            headers.update(target.headers)
        return headers
