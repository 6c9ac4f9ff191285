"""The ``PersonaStore`` port: a tenant's personas (named system prompts with their defaults).

A persona is keyed by (tenant, name): another tenant's persona of the same name is simply
absent. Records are replaced whole (the admin API validates them before they are stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

type Overflow = Literal["drop", "summarize"]


@dataclass(frozen=True, slots=True)
class PersonaMemory:
    """The persona's conversation memory; None fields take the routing config's ``memory``."""

    enabled: bool = True
    max_tokens: int | None = None
    ttl_s: int | None = None
    overflow: Overflow | None = None
    summary_model: str | None = None


@dataclass(frozen=True, slots=True)
class PersonaLastResort:
    """What the persona answers when no provider can; None fields take the model's rule."""

    stale_if_error_s: int | None = None
    template: str | None = None


@dataclass(frozen=True, slots=True)
class PersonaRecord:
    tenant: str
    name: str
    system_prompt: str  # may name variables: {{ customer }}
    description: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)  # defaults of the prompt's variables
    model: str | None = None  # the model a call addressed to the persona by name goes to
    parameters: Mapping[str, Any] = field(default_factory=dict)  # defaults: temperature, max_tokens, …
    guardrails: tuple[str, ...] = ()  # guardrail policy names applied to its calls
    memory: PersonaMemory = field(default_factory=PersonaMemory)
    last_resort: PersonaLastResort = field(default_factory=PersonaLastResort)
    published: bool = False  # callable as the model "persona/<name>" (an unmodified SDK can)
    replace_system: bool = False  # the caller's own system messages are dropped
    created_at: float = 0.0
    updated_at: float = 0.0


class PersonaStore(Protocol):
    async def get(self, tenant: str, name: str) -> PersonaRecord | None:
        """The tenant's persona; None when it has none of that name. Raises
        ``StateUnavailableError``."""
        ...

    async def put(self, record: PersonaRecord) -> None:
        """Create or replace the persona. Raises ``StateUnavailableError``."""
        ...

    async def delete(self, tenant: str, name: str) -> bool:
        """Remove the persona; False when there was none. Raises ``StateUnavailableError``."""
        ...

    async def list_personas(self, tenant: str) -> list[PersonaRecord]:
        """The tenant's personas, sorted by name. Raises ``StateUnavailableError``."""
        ...
