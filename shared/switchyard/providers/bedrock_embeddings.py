"""Bedrock's embeddings models over InvokeModel (``POST /model/{modelId}/invoke``), answered in
OpenAI's embeddings shape.

Each family takes its own body, chosen by the model id (after a cross-region profile prefix, or
an ARN's last segment):

- Amazon Titan Text Embeddings (``amazon.titan-embed-text-v2:0``, ``-v1``): one text a call
  (``{"inputText": ..., "dimensions": 256|512|1024, "normalize": true}``; v1 takes the text
  only), answered ``{"embedding": [...], "inputTextTokenCount": n}``. A list of inputs is one
  call per input, at most :data:`MAX_CONCURRENT_CALLS` at once.
- Cohere Embed v3 (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``): up to
  :data:`COHERE_BATCH` texts a call (``{"texts", "input_type", "embedding_types": ["float"]}``),
  answered ``{"embeddings": {"float": [[...]]}}`` (or a bare list of vectors), with no token
  count in the body.

Token counts come from the body (Titan), else from Bedrock's ``X-Amzn-Bedrock-Input-Token-Count``
header, else the request's estimate. What Bedrock cannot take (token arrays, ``dimensions`` the
model does not offer) is refused before any call with a 400 that does not fail over: another
deployment of the same embedding model would refuse it too. Other model families are not
embeddings models this adapter can call: ``model_not_found``, and the next deployment is tried.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_json

from switchyard.api.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, encoded
from switchyard.errors import InvalidRequestError, Kind, ProviderError, SwitchyardError
from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response
from switchyard.providers.embeddings import no_embeddings

# Titan takes one text a call: a list is fanned out, bounded so that one request cannot take the
# account's whole InvokeModel rate (or the connection pool) at once.
MAX_CONCURRENT_CALLS = 8
COHERE_BATCH = 96  # Cohere Embed's limit of texts per call
TITAN_V2_DIMENSIONS = (256, 512, 1024)
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
TOKEN_COUNT_HEADER = "x-amzn-bedrock-input-token-count"  # noqa: S105 (a header name, not a secret)
_PROFILE = re.compile(r"^(?:us|eu|apac|us-gov|jp|au|ca|global)\.")

# One InvokeModel call: the body in, Bedrock's 2xx body and response headers out (a failure is a
# classified ProviderError).
type Invoke = Callable[[bytes], Awaitable[tuple[bytes, Mapping[str, str]]]]


@dataclass(frozen=True, slots=True)
class Batch:
    """One call's body, and how many vectors its answer must hold."""

    body: bytes
    size: int


@dataclass(frozen=True, slots=True)
class Part:
    """One call's vectors, in input order, and its input tokens (None: not reported)."""

    vectors: list[list[float]]
    tokens: int | None


class Family(Protocol):
    def batches(self, request: EmbeddingRequest, texts: list[str]) -> list[Batch]:
        """The calls for ``texts``; raises InvalidRequestError for what the model cannot take."""
        ...

    def parse(self, raw: bytes, headers: Mapping[str, str], size: int) -> Part:
        """One 2xx answer; raises ``bad_response`` for anything but ``size`` vectors."""
        ...


class _TitanAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    embedding: list[float] = Field(min_length=1)
    tokens: int | None = Field(default=None, alias="inputTextTokenCount", ge=0)


class _CohereByType(BaseModel):
    model_config = ConfigDict(extra="ignore")
    floats: list[list[float]] = Field(alias="float")


class _CohereAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # By type when embedding_types was sent (always, here); a bare list when it was not.
    embeddings: _CohereByType | list[list[float]]


@dataclass(frozen=True, slots=True)
class Titan:
    """Titan Text Embeddings: ``dimensions`` the model offers (none: v1, which takes none), and
    whether it takes ``normalize`` (v2)."""

    dimensions: tuple[int, ...]
    normalize: bool

    def batches(self, request: EmbeddingRequest, texts: list[str]) -> list[Batch]:
        extra: dict[str, object] = {}
        if request.dimensions is not None:
            extra["dimensions"] = self._dimensions(request.dimensions)
        if self.normalize:
            extra["normalize"] = True  # unit vectors, as OpenAI's are
        return [Batch(to_json({"inputText": text, **extra}), 1) for text in texts]

    def parse(self, raw: bytes, headers: Mapping[str, str], size: int) -> Part:
        try:
            answer = _TitanAnswer.model_validate_json(raw)
        except ValidationError as exc:
            raise bad_response("(not a Titan embeddings answer)") from exc
        tokens = answer.tokens if answer.tokens is not None else header_tokens(headers)
        return Part([answer.embedding], tokens)

    def _dimensions(self, wanted: int) -> int:
        if not self.dimensions:
            raise InvalidRequestError(
                "This Titan embeddings model does not take dimensions.", param="dimensions"
            )
        if wanted not in self.dimensions:
            allowed = ", ".join(map(str, self.dimensions))
            raise InvalidRequestError(
                f"dimensions must be one of {allowed} for this model.", param="dimensions"
            )
        return wanted


@dataclass(frozen=True, slots=True)
class Cohere:
    """Cohere Embed v3: batches of :data:`COHERE_BATCH` texts; ``input_type`` from the request's
    own ``input_type`` field (Cohere's name for it), else ``search_document``."""

    def batches(self, request: EmbeddingRequest, texts: list[str]) -> list[Batch]:
        if request.dimensions is not None:
            raise InvalidRequestError("Cohere Embed v3 models do not take dimensions.", param="dimensions")
        input_type = _input_type(request)
        return [
            Batch(
                to_json({"texts": chunk, "input_type": input_type, "embedding_types": ["float"]}),
                len(chunk),
            )
            for chunk in (texts[i : i + COHERE_BATCH] for i in range(0, len(texts), COHERE_BATCH))
        ]

    def parse(self, raw: bytes, headers: Mapping[str, str], size: int) -> Part:
        try:
            answer = _CohereAnswer.model_validate_json(raw)
        except ValidationError as exc:
            raise bad_response("(not a Cohere embeddings answer)") from exc
        vectors = answer.embeddings if isinstance(answer.embeddings, list) else answer.embeddings.floats
        if len(vectors) != size or not all(vectors):
            raise bad_response(f"(expected {size} embeddings, one per input)")
        return Part(vectors, header_tokens(headers))


_TITAN_V2 = Titan(TITAN_V2_DIMENSIONS, normalize=True)
_TITAN_V1 = Titan((), normalize=False)
_COHERE = Cohere()
_FAMILIES: tuple[tuple[str, Family], ...] = (
    ("amazon.titan-embed-text-v2", _TITAN_V2),
    ("amazon.titan-embed-text-v1", _TITAN_V1),
    ("cohere.embed-english-v3", _COHERE),
    ("cohere.embed-multilingual-v3", _COHERE),
)


def family_of(upstream_model: str) -> Family | None:
    """The family of a Bedrock model id, profile id or ARN; None: not one this adapter embeds with."""
    model = upstream_model.rpartition("/")[2] if upstream_model.startswith("arn:") else upstream_model
    model = _PROFILE.sub("", model, count=1)
    return next((family for prefix, family in _FAMILIES if model.startswith(prefix)), None)


async def embed_on_bedrock(request: EmbeddingRequest, target: Target, invoke: Invoke) -> EmbeddingResponse:
    """The caller's answer, from as many ``invoke`` calls as the model needs, all within the
    target's timeout. Raises ProviderError (``model_not_found`` for a model that is not one of the
    families, without a call) or InvalidRequestError before any call."""
    family = family_of(target.upstream_model)
    if family is None:
        raise no_embeddings(target.provider)
    batches = family.batches(request, _texts(request))

    def call(batch: Batch) -> Callable[[], Awaitable[Part]]:
        async def run() -> Part:
            raw, headers = await invoke(batch.body)
            return family.parse(raw, headers, batch.size)

        return run

    try:
        # Each call has its own timeout; this one bounds them all (several waves of calls).
        async with asyncio.timeout(target.timeout_s):
            parts = await in_order([call(b) for b in batches], MAX_CONCURRENT_CALLS)
    except TimeoutError as exc:
        raise ProviderError(Kind.TIMEOUT, "The upstream provider did not answer in time.") from exc
    return answer(request, target, parts)


def answer(request: EmbeddingRequest, target: Target, parts: list[Part]) -> EmbeddingResponse:
    """The OpenAI-shaped answer in the caller's format. A count missing from any part makes the
    whole count the request's estimate: a sum of counted and estimated tokens would be neither."""
    vectors = [vector for part in parts for vector in part.vectors]
    # Validated as they were parsed: constructed, not validated again (up to 2048 x 1024 floats).
    data = [Embedding.model_construct(index=i, embedding=v) for i, v in enumerate(vectors)]
    counts = [part.tokens for part in parts]
    tokens = sum(c for c in counts if c is not None) if None not in counts else request.estimated_tokens()
    usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)
    response = EmbeddingResponse(data=data, model=target.upstream_model, usage=usage)
    try:
        return encoded(response, request.format)
    except (ValueError, OverflowError) as exc:  # a component beyond float32's range
        raise bad_response("(an embedding is not a float32 vector)") from exc


def header_tokens(headers: Mapping[str, str]) -> int | None:
    value = headers.get(TOKEN_COUNT_HEADER)
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def in_order[T](calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Every call's result in the calls' order, at most ``limit`` running at once. The first
    failure cancels the calls still running and is raised as itself (not an exception group)."""
    if len(calls) == 1:
        return [await calls[0]()]
    results: list[T | None] = [None] * len(calls)
    pending = iter(range(len(calls)))  # shared: each worker takes the next call not yet started

    async def worker() -> None:
        for index in pending:
            results[index] = await calls[index]()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, len(calls))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        # A classified failure says more than whatever else failed alongside it.
        first = next((e for e in failed.exceptions if isinstance(e, SwitchyardError)), failed.exceptions[0])
        raise first from None
    return cast("list[T]", results)


def _texts(request: EmbeddingRequest) -> list[str]:
    texts = [item for item in request.inputs if isinstance(item, str)]
    if len(texts) != len(request.inputs):
        raise InvalidRequestError(
            "Bedrock embeddings models take text only: send strings, not token arrays.", param="input"
        )
    return texts


def _input_type(request: EmbeddingRequest) -> str:
    wanted = (request.model_extra or {}).get("input_type", COHERE_INPUT_TYPES[0])
    if wanted not in COHERE_INPUT_TYPES:
        allowed = ", ".join(COHERE_INPUT_TYPES)
        raise InvalidRequestError(f"input_type must be one of {allowed}.", param="input_type")
    return cast("str", wanted)
