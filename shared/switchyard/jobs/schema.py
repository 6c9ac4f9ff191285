"""The jobs wire contract: what ``POST /v1/jobs`` takes, and the message on the jobs queue.

:class:`JobMessage` is the one schema shared by the HTTP submission and by any IAM-authorised
producer that puts messages straight on the queue; ``docs/jobs.schema.json`` is its JSON Schema
(a test keeps the file equal to the model). ``key_id`` names the key (tenant) charged for the job.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchyard.api.chat import ChatRequest

JOB_ID_PATTERN = r"^job_[A-Za-z0-9_-]{8,64}$"
_Metadata = dict[str, str]


class JobSpec(BaseModel):
    """One job of a submission."""

    model_config = ConfigDict(extra="forbid")

    request: ChatRequest
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)


class JobBatch(BaseModel):
    """``POST /v1/jobs`` with several jobs; ``webhook_url`` and ``metadata`` apply to each job that
    sets none of its own."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSpec] = Field(min_length=1)
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)

    def specs(self) -> list[JobSpec]:
        return [
            spec.model_copy(
                update={
                    "webhook_url": spec.webhook_url or self.webhook_url,
                    "metadata": spec.metadata or self.metadata,
                }
            )
            for spec in self.jobs
        ]


class JobMessage(BaseModel):
    """A message on the jobs queue (schema version 1)."""

    model_config = ConfigDict(extra="forbid", title="SwitchyardJobMessage")

    version: Literal[1] = 1
    job_id: str = Field(pattern=JOB_ID_PATTERN, description="Unique per key; the idempotency key.")
    key_id: str = Field(min_length=1, max_length=128, description="The key (tenant) charged for the job.")
    kind: Literal["chat"] = "chat"
    request: ChatRequest = Field(description="An OpenAI Chat Completions request (stream is ignored).")
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: _Metadata = Field(default_factory=dict, max_length=16)
    submitted_at: float | None = Field(default=None, description="Epoch seconds.")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`JobMessage`, as written to docs/jobs.schema.json."""
    schema = JobMessage.model_json_schema()
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
