"""Wire schema of ``GET /v1/conversations/{id}``: what the gateway remembers of a conversation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ConversationOut(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    summary: str | None = Field(description="what older, forgotten turns said; null when none")
    messages: list[dict[str, Any]] = Field(description="the remembered turns, oldest first")
    tokens: int = Field(description="the remembered turns and the summary, estimated")
    created_at: float
    updated_at: float
    expires_at: float
