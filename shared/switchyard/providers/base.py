"""The provider port: what the attempt loop needs from every upstream protocol adapter."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.moderation import ModerationResult
from switchyard.api.stream import ChatCompletionChunk


@dataclass(frozen=True, slots=True)
class Target:
    """One upstream call's destination, resolved from a deployment by the attempt loop."""

    provider: str  # provider name from the routing config
    deployment_id: str
    upstream_model: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    timeout_s: float  # whole-call budget: what is left of the request deadline, capped per provider
    connect_timeout_s: float = 5.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    # Streams: the longest silence between two reads once the body has begun (``timeout_s``
    # bounds the wait for the first bytes, and for the first token).
    stream_idle_timeout_s: float = 60.0


class Provider(Protocol):
    """An upstream protocol adapter.

    ``chat`` returns the answer in the OpenAI Chat Completions shape whatever the upstream dialect,
    with ``model`` set to the upstream model. It raises :class:`switchyard.errors.ProviderError`
    (classified through :mod:`switchyard.providers.classify`) for a failed call, and
    :class:`switchyard.errors.InvalidRequestError` before any call for a request this upstream
    cannot express (e.g. ``n > 1`` on Anthropic); any other exception is a bug.
    """

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion: ...

    def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        """The answer as canonical chunks (an async generator: close it when done). Raises as
        ``chat`` does, at any point of the iteration; a stream that ends without its end marker
        or stops sending past ``target.stream_idle_timeout_s`` raises a ProviderError too, never
        ends quietly. The last chunk carries usage whenever the upstream reports it."""
        ...

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
        """The embeddings of every input, in the OpenAI shape whatever the upstream dialect: one
        item per input, ordered by ``index``, each vector in ``request.format`` (floats, or base64
        float32), ``model`` the upstream model, usage when the upstream reports it. Raises
        ProviderError as ``chat`` does; an adapter whose upstream has no embeddings raises a
        ``model_not_found`` ProviderError without calling it, so the attempt loop moves on."""
        ...


@runtime_checkable
class Moderating(Protocol):
    """An adapter that can also reach its upstream's moderation endpoint (OpenAI's dialect)."""

    async def moderate(self, inputs: list[str], target: Target) -> list[ModerationResult]:
        """One result per input, in order. Raises ProviderError as ``Provider.chat`` does (a body
        that is not a moderation answer is ``bad_response``)."""
        ...
