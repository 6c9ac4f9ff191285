"""Embeddings over an OpenAI-dialect upstream (``POST {base}/embeddings``): the body, and the
answer checked and put in the format the caller asked for."""

from __future__ import annotations

from pydantic import ValidationError

from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse, EncodingFormat, encoded
from switchyard.errors import Kind, ProviderError
from switchyard.providers.classify import bad_response


def embeddings_body(request: EmbeddingRequest, upstream_model: str, *, native_base64: bool) -> bytes:
    """The upstream body. Upstreams that take ``encoding_format: base64`` (OpenAI) are asked for
    what the caller asked (a quarter of the bytes); the rest get no format and answer floats,
    which :func:`parse_embeddings` encodes when the caller wants base64."""
    wanted: EncodingFormat | None = request.encoding_format if native_base64 else None
    return request.upstream_json(upstream_model, encoding_format=wanted)


def parse_embeddings(raw: bytes, request: EmbeddingRequest) -> EmbeddingResponse:
    """A 2xx body as the caller's answer. Raises ``bad_response`` for anything that is not one
    embedding per input with distinct indexes."""
    try:
        response = EmbeddingResponse.model_validate_json(raw)
    except ValidationError as exc:
        raise bad_response("(not an embeddings list)") from exc
    count = len(request.inputs)
    if sorted(e.index for e in response.data) != list(range(count)):
        raise bad_response(f"(expected {count} embeddings, one per input)")
    response.keep_raw(raw)
    try:
        return encoded(response, request.format)
    except ValueError as exc:
        raise bad_response("(an embedding is not a float32 vector)") from exc


def no_embeddings(provider: str) -> ProviderError:
    """What an adapter without an embeddings API raises instead of calling its upstream."""
    return ProviderError(Kind.MODEL_NOT_FOUND, f"The provider {provider!r} serves no embeddings models.")
