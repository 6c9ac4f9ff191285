"""Error bodies in the callers' dialects."""

from __future__ import annotations

from pydantic import BaseModel


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicErrorBody(BaseModel):
    type: str = "error"
    error: AnthropicErrorDetail
