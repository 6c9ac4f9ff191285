"""OpenAI ``/v1/moderations`` wire schemas (what guardrails' moderation sends and reads).

Parsing is lenient beyond what the gateway reads: providers that speak the dialect differ in
their category names and extra fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModerationRequest(BaseModel):
    model: str
    input: list[str]


class ModerationResult(_Open):
    flagged: bool = False
    categories: dict[str, bool | None] = Field(default_factory=dict)
    category_scores: dict[str, float | None] = Field(default_factory=dict)

    def flagged_categories(self) -> list[str]:
        return sorted(name for name, on in self.categories.items() if on)


class ModerationResponse(_Open):
    id: str = ""
    model: str = ""
    results: list[ModerationResult] = Field(min_length=1)
