"""Anthropic Messages API wire schemas (``POST /v1/messages``), request and response.

Unknown fields are kept (``extra="allow"``) as in :mod:`switchyard.api.chat`. Content blocks the
gateway does not translate (documents, thinking, server tools...) still parse, as
:class:`OtherBlock`, so a response carrying them is not mistaken for a malformed one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from switchyard.api.chat import CacheControl
from switchyard.api.headers import HeaderText


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextBlock(_Open):
    type: Literal["text"] = "text"
    text: str


class Base64Source(_Open):
    type: Literal["base64"] = "base64"
    media_type: str
    data: str


class URLSource(_Open):
    type: Literal["url"] = "url"
    url: str


class ImageBlock(_Open):
    type: Literal["image"] = "image"
    source: Annotated[Base64Source | URLSource, Field(discriminator="type")]


class ToolUseBlock(_Open):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


ResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Open):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str | list[ResultPart] | None = None
    is_error: bool | None = None


class OtherBlock(_Open):
    """Any block type without a model here (thinking, document, server_tool_use...)."""

    type: str


_MODELLED = frozenset({"text", "image", "tool_use", "tool_result"})


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _MODELLED else "other"


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_tag),
]


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class AnthropicTool(_Open):
    name: str
    description: str | None = None
    input_schema: dict[str, Any]


class AnthropicToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class AnthropicMetadata(_Open):
    user_id: str | None = None


class AnthropicRequest(_Open):
    # Echoed in x-switchyard-model: refused at parse time when it cannot be a header value.
    model: HeaderText = Field(min_length=1, max_length=256)
    messages: list[AnthropicMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    system: str | list[TextBlock] | None = None
    metadata: AnthropicMetadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[AnthropicTool] | None = None
    tool_choice: AnthropicToolChoice | None = None
    # Switchyard's own cache control, as on the OpenAI route; never sent upstream.
    cache: CacheControl | None = None


class AnthropicUsage(_Open):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class AnthropicResponse(_Open):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ContentBlock]
    # A plain str: a stop reason added by Anthropic after this was written must not fail parsing.
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: AnthropicUsage = Field(default_factory=AnthropicUsage)
