"""OpenAI Embeddings wire schemas (``POST /v1/embeddings``): the gateway's canonical embeddings
request and response, whatever the upstream.

``input`` is one string, a list of strings, one token array or a list of token arrays, as OpenAI
takes it. Vectors travel as JSON floats or, with ``encoding_format: "base64"``, as the base64 of
their little-endian float32 bytes (what the official SDKs ask for by default);
:func:`encoded` turns an answer into the format its caller asked for. Unknown request fields are
kept for OpenAI-dialect upstreams, as for chat.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from switchyard.api.chat import CacheControl

# OpenAI's own bounds: at most 2048 inputs a request, token ids are non-negative.
MAX_INPUTS = 2048
EncodingFormat = Literal["float", "base64"]
# Fields only the gateway reads (cache control, the mock's controls): never sent upstream.
_GATEWAY_ONLY = frozenset({"cache", "metadata"})


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


type EmbeddingInput = str | list[str] | list[int] | list[list[int]]


class EmbeddingRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    input: EmbeddingInput
    encoding_format: EncodingFormat | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    user: str | None = None
    # Gateway-side only: the mock provider's controls (as on chat requests) and cache control.
    metadata: dict[str, str] | None = None
    cache: CacheControl | None = None

    @field_validator("input", mode="wrap")
    @classmethod
    def _input_shape(cls, value: object, handler: ValidatorFunctionWrapHandler) -> EmbeddingInput:
        # One message instead of one per member of the union, each naming a type the caller
        # never wrote.
        try:
            shaped: EmbeddingInput = handler(value)
        except ValidationError:
            raise ValueError(
                "input must be a string, a list of strings, a token array (a list of integers) or "
                "a list of token arrays"
            ) from None
        items = _items(shaped)
        if not items:
            raise ValueError("input must not be empty")
        if len(items) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} inputs a request")
        for item in items:
            if not item:
                raise ValueError("an input must not be empty (an empty string or token array)")
            if isinstance(item, list) and min(item) < 0:
                raise ValueError("token ids are non-negative integers")
        return shaped

    @property
    def inputs(self) -> list[str | list[int]]:
        """Every input as its own item: strings, or token arrays."""
        return _items(self.input)

    @property
    def format(self) -> EncodingFormat:
        return self.encoding_format or "float"

    def estimated_tokens(self) -> int:
        """Input tokens before the upstream counts them: a token array's length, else four
        characters a token (rounded up), as for chat."""
        return sum(len(i) if isinstance(i, list) else -(-len(i) // 4) for i in self.inputs)

    def upstream_json(self, upstream_model: str, *, encoding_format: EncodingFormat | None) -> bytes:
        """The body for an OpenAI-dialect upstream, asking for ``encoding_format`` (None: the
        upstream's default, floats)."""
        copy = self.model_copy(update={"model": upstream_model, "encoding_format": encoding_format})
        return self.__pydantic_serializer__.to_json(copy, exclude_none=True, exclude=set(_GATEWAY_ONLY))


def _items(value: EmbeddingInput) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if value and isinstance(value[0], int):
        return [value]  # one token array
    return cast("list[str | list[int]]", value)


class Embedding(_Open):
    object: Literal["embedding"] = "embedding"
    index: int = Field(ge=0)
    embedding: list[float] | str  # floats, or base64 float32 (little-endian)


class EmbeddingUsage(_Open):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingResponse(_Open):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage | None = None
    # The upstream's own JSON when it is already what the caller gets (answered as is).
    _raw: bytes | None = PrivateAttr(default=None)

    def keep_raw(self, raw: bytes) -> None:
        self._raw = raw

    def to_json(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


def encode_vector(vector: list[float]) -> str:
    """A vector as OpenAI's base64: its little-endian float32 bytes."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def decode_vector(text: str) -> list[float]:
    """Raises ValueError for text that is not the base64 of float32 values."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 4:
        raise ValueError("not a float32 vector")
    values = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not all(math.isfinite(v) for v in values):
        raise ValueError("not a finite vector")
    return values


def encoded(response: EmbeddingResponse, encoding_format: EncodingFormat) -> EmbeddingResponse:
    """``response`` with every vector in ``encoding_format`` (itself, raw JSON kept, when they all
    are already), ordered by index. Raises ValueError for a base64 vector that does not decode."""
    data = sorted(response.data, key=lambda e: e.index)
    want_text = encoding_format == "base64"
    if data == response.data and all(isinstance(e.embedding, str) is want_text for e in data):
        return response
    converted = [
        e.model_copy(update={"embedding": _converted(e.embedding, want_text=want_text)}) for e in data
    ]
    # Constructed, not copied: a copy would keep the raw JSON of the vectors it replaces.
    return EmbeddingResponse.model_construct(**{**dict(response), "data": converted})


def _converted(vector: list[float] | str, *, want_text: bool) -> list[float] | str:
    if isinstance(vector, str):
        return vector if want_text else decode_vector(vector)
    return encode_vector(vector) if want_text else vector
