"""The jobs wire contract: what ``POST /v1/jobs`` takes, and the message on the jobs queue.

:data:`JobMessage` is the one schema shared by the HTTP submission and by any IAM-authorised
producer that puts messages straight on the queue; ``docs/jobs.schema.json`` is its JSON Schema
(a test keeps the file equal to the model). ``kind`` picks the request's dialect: "chat" (OpenAI
Chat Completions, the default), "messages" (Anthropic Messages) or "embeddings" (OpenAI
Embeddings). ``key_id`` names the key charged for the job; the key's tenant owns it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from switchyard.api.anthropic import AnthropicRequest
from switchyard.api.chat import ChatRequest
from switchyard.api.embeddings import EmbeddingRequest

JOB_ID_PATTERN = r"^job_[A-Za-z0-9_-]{8,64}$"
_Metadata = dict[str, str]
type JobKind = Literal["chat", "messages", "embeddings"]
KINDS: tuple[JobKind, ...] = ("chat", "messages", "embeddings")

_CHAT_DOC = "An OpenAI Chat Completions request."
_MESSAGES_DOC = "An Anthropic Messages API request; the result is an Anthropic message."
_EMBEDDINGS_DOC = "An OpenAI Embeddings request; the result is an embeddings list."


def _kind_of(value: Any) -> str:
    """The variant a job belongs to: ``kind``, "chat" when absent (messages from before kinds)."""
    if isinstance(value, dict):
        kind = value.get("kind", "chat")
        return kind if isinstance(kind, str) else ""
    return str(getattr(value, "kind", ""))


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)


class ChatJobSpec(_Spec):
    """One chat job of a submission (``kind`` may be left out)."""

    kind: Literal["chat"] = "chat"
    request: ChatRequest = Field(description=_CHAT_DOC)


class MessagesJobSpec(_Spec):
    """One Anthropic Messages job of a submission."""

    kind: Literal["messages"]
    request: AnthropicRequest = Field(description=_MESSAGES_DOC)


class EmbeddingsJobSpec(_Spec):
    """One embeddings job of a submission."""

    kind: Literal["embeddings"]
    request: EmbeddingRequest = Field(description=_EMBEDDINGS_DOC)


type AnyJobSpec = ChatJobSpec | MessagesJobSpec | EmbeddingsJobSpec
# One job of a submission; ``kind`` picks the request dialect (absent: "chat").
type JobSpec = Annotated[
    Annotated[ChatJobSpec, Tag("chat")]
    | Annotated[MessagesJobSpec, Tag("messages")]
    | Annotated[EmbeddingsJobSpec, Tag("embeddings")],
    Discriminator(_kind_of),
]
JOB_SPEC: TypeAdapter[AnyJobSpec] = TypeAdapter(JobSpec)


class JobBatch(BaseModel):
    """``POST /v1/jobs`` with several jobs; ``webhook_url`` and ``metadata`` apply to each job that
    sets none of its own."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSpec] = Field(min_length=1)
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)

    def specs(self) -> list[AnyJobSpec]:
        return [
            spec.model_copy(
                update={
                    "webhook_url": spec.webhook_url or self.webhook_url,
                    "metadata": spec.metadata or self.metadata,
                }
            )
            for spec in self.jobs
        ]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    job_id: str = Field(pattern=JOB_ID_PATTERN, description="Unique per tenant; the idempotency key.")
    key_id: str = Field(
        min_length=1,
        max_length=128,
        description="The key charged for the job; its tenant (read from the key store) owns it.",
    )
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)
    submitted_at: float | None = Field(default=None, description="Epoch seconds.")


class ChatJobMessage(_Message):
    """A chat job on the queue (``kind`` may be left out)."""

    model_config = ConfigDict(title="SwitchyardChatJobMessage")

    kind: Literal["chat"] = "chat"
    request: ChatRequest = Field(description=_CHAT_DOC + " stream is ignored.")


class MessagesJobMessage(_Message):
    """An Anthropic Messages job on the queue."""

    model_config = ConfigDict(title="SwitchyardMessagesJobMessage")

    kind: Literal["messages"]
    request: AnthropicRequest = Field(description=_MESSAGES_DOC + " stream is ignored.")


class EmbeddingsJobMessage(_Message):
    """An embeddings job on the queue."""

    model_config = ConfigDict(title="SwitchyardEmbeddingsJobMessage")

    kind: Literal["embeddings"]
    request: EmbeddingRequest = Field(description=_EMBEDDINGS_DOC)


type AnyJobMessage = ChatJobMessage | MessagesJobMessage | EmbeddingsJobMessage
# A message on the jobs queue (schema version 1).
type JobMessage = Annotated[
    Annotated[ChatJobMessage, Tag("chat")]
    | Annotated[MessagesJobMessage, Tag("messages")]
    | Annotated[EmbeddingsJobMessage, Tag("embeddings")],
    Discriminator(_kind_of),
]
JOB_MESSAGE: TypeAdapter[AnyJobMessage] = TypeAdapter(JobMessage)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :data:`JobMessage`, as written to docs/jobs.schema.json."""
    schema = JOB_MESSAGE.json_schema()
    schema["title"] = "SwitchyardJobMessage"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


class _Ticks:
    """Strictly increasing milliseconds for this process: jobs submitted within one millisecond
    still list in submission order (a deliberate bit of process state, like a warm cache)."""

    last = 0

    @classmethod
    def next(cls, now: float) -> int:
        cls.last = max(int(now * 1000), cls.last + 1)
        return cls.last


def new_job_id(now: float) -> str:
    """Milliseconds first, so a key's job ids sort (and list) by submission time."""
    return f"job_{_Ticks.next(now):012x}{secrets.token_hex(8)}"


def idempotent_job_id(key_id: str, idempotency_key: str, index: int) -> str:
    """The same key, Idempotency-Key and position always name the same job."""
    digest = hashlib.sha256(f"{key_id}\n{idempotency_key}\n{index}".encode()).hexdigest()
    return f"job_i{digest[:31]}"
