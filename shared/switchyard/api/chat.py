"""OpenAI Chat Completions wire schemas: the gateway's canonical request and response.

Every provider adapter takes a :class:`ChatRequest` and returns a :class:`ChatCompletion`; other
dialects (Anthropic Messages) are translated to and from these. Unknown fields are kept
(``extra="allow"``) so that options the gateway does not model still reach an OpenAI-dialect
upstream, as callers of a pass-through proxy expect.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from switchyard.api.headers import HeaderText


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageURL(_Open):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudioPart(_Open):
    type: Literal["input_audio"]
    input_audio: dict[str, Any]


class FilePart(_Open):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(_Open):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    TextPart | ImagePart | InputAudioPart | FilePart | RefusalPart, Field(discriminator="type")
]


class FunctionCall(_Open):
    name: str
    arguments: str


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None


class FunctionDef(_Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class StreamOptions(_Open):
    include_usage: bool | None = None


class CacheControl(BaseModel):
    """Switchyard's per-request cache control (``cache`` in the body); never sent upstream."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    ttl: int | None = Field(default=None, ge=0, le=30 * 86400)
    no_cache: bool = Field(default=False, alias="no-cache")
    no_store: bool = Field(default=False, alias="no-store")


_GATEWAY_ONLY = frozenset({"cache"})


class ChatRequest(_Open):
    # Echoed in x-switchyard-model: refused at parse time when it cannot be a header value.
    model: HeaderText = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    seed: int | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    cache: CacheControl | None = None

    def upstream_body(self, upstream_model: str) -> dict[str, Any]:
        """The JSON body for an OpenAI-dialect upstream: unset fields dropped, gateway fields removed."""
        body = self.model_dump(mode="json", exclude_none=True, exclude=set(_GATEWAY_ONLY), by_alias=True)
        body["model"] = upstream_model
        return body

    def upstream_json(self, upstream_model: str, drop: frozenset[str] = frozenset()) -> bytes:
        """``upstream_body`` serialized straight to bytes by pydantic-core (the hot path: several
        times faster than building the dict and passing it through ``json.dumps``)."""
        copy = self.model_copy(update={"model": upstream_model})
        return self.__pydantic_serializer__.to_json(
            copy, exclude_none=True, exclude=set(_GATEWAY_ONLY | drop), by_alias=True
        )

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class PromptTokensDetails(_Open):
    cached_tokens: int = 0


class Usage(_Open):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    # Anthropic prompt-cache writes, which OpenAI has no field for (LiteLLM uses the same name).
    cache_creation_input_tokens: int | None = None
    # Web search (Perplexity's usage fields): the per-request fee depends on the search context
    # size; deep research also bills search queries, and citation and reasoning tokens, none of
    # which prompt_tokens or completion_tokens include.
    search_context_size: str | None = None
    num_search_queries: int | None = None
    citation_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def cached_tokens(self) -> int:
        return self.prompt_tokens_details.cached_tokens if self.prompt_tokens_details else 0


class AssistantMessage(_Open):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class Choice(_Open):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(_Open):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    # The upstream's own JSON when it was already in this shape and validated: answered as is,
    # which saves a re-serialization and keeps fields the gateway does not model.
    _raw: bytes | None = PrivateAttr(default=None)

    @property
    def raw_json(self) -> bytes | None:
        return self._raw

    def keep_raw(self, raw: bytes) -> None:
        self._raw = raw

    def to_json(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    def edited(self, **update: Any) -> ChatCompletion:
        """A copy with ``update`` applied, without the upstream's JSON (it no longer says what
        the answer holds)."""
        copy = self.model_copy(update=update)
        copy._raw = None
        return copy


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "switchyard"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
