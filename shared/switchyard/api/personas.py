"""Wire schemas of ``/admin/personas`` (what an operator sends and reads back)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

VariableName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
PolicyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonaMemoryIn(_In):
    """Left-out fields take the routing config's ``memory`` settings."""

    enabled: bool = True
    max_tokens: int | None = Field(default=None, ge=16, le=1_000_000)
    ttl_s: int | None = Field(default=None, ge=60, le=366 * 86400)
    overflow: Literal["drop", "summarize"] | None = None
    summary_model: ModelName | None = None


class PersonaLastResortIn(_In):
    """Left-out fields take the rule of the persona's model (routing config ``last_resort``)."""

    stale_if_error_s: int | None = Field(default=None, ge=0, le=30 * 86400)
    template: str | None = Field(default=None, min_length=1, max_length=32_000)


class PersonaIn(_In):
    """A persona, created or replaced whole by ``PUT /admin/personas/{tenant}/{name}``."""

    system_prompt: str = Field(min_length=1, max_length=100_000, description="may name {{ variables }}")
    description: str = Field(default="", max_length=1000)
    variables: dict[VariableName, Annotated[str, StringConstraints(max_length=10_000)]] = Field(
        default_factory=dict, max_length=64, description="default values of the prompt's variables"
    )
    model: ModelName | None = Field(default=None, description="where calls to the model persona/<name> go")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="defaults for temperature, max_tokens, …: the caller's own win"
    )
    guardrails: list[PolicyName] = Field(default_factory=list, max_length=16)
    memory: PersonaMemoryIn = Field(default_factory=PersonaMemoryIn)
    last_resort: PersonaLastResortIn = Field(default_factory=PersonaLastResortIn)
    published: bool = Field(default=False, description="callable as the model persona/<name>")
    replace_system: bool = Field(default=False, description="drop the caller's own system messages")


class PersonaOut(BaseModel):
    tenant: str
    name: str
    model_name: str | None = Field(description="the model name an SDK calls it by, when published")
    system_prompt: str
    description: str
    variables: dict[str, str]
    model: str | None
    parameters: dict[str, Any]
    guardrails: list[str]
    memory: PersonaMemoryIn
    last_resort: PersonaLastResortIn
    published: bool
    replace_system: bool
    created_at: float
    updated_at: float


class PersonaList(BaseModel):
    data: list[PersonaOut]
