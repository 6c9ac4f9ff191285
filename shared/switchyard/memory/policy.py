"""The memory settings one call gets: the routing config's ``memory``, with its persona's
overrides."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.config.routing import MemoryConfig
from switchyard.state.personas import Overflow, PersonaRecord


@dataclass(frozen=True, slots=True)
class MemoryPolicy:
    max_tokens: int  # the remembered turns (and summary) sent with a call, at most
    compact_to: float  # past max_tokens, forget the oldest until they fit in this share of it
    ttl_s: int
    overflow: Overflow  # forgotten turns: dropped, or folded into the summary
    summary_model: str | None
    summary_max_tokens: int

    @property
    def kept_tokens(self) -> int:
        return int(self.max_tokens * self.compact_to)


def policy_for(config: MemoryConfig, persona: PersonaRecord | None) -> MemoryPolicy | None:
    """None: memory is off (for every call, or for the persona's)."""
    if not config.enabled or (persona is not None and not persona.memory.enabled):
        return None
    mine = persona.memory if persona is not None else None
    summary_model = (mine.summary_model if mine else None) or config.summary_model
    overflow = (mine.overflow if mine else None) or config.overflow
    return MemoryPolicy(
        max_tokens=(mine.max_tokens if mine else None) or config.max_tokens,
        compact_to=config.compact_to,
        ttl_s=(mine.ttl_s if mine else None) or config.ttl_s,
        overflow=overflow if summary_model else "drop",
        summary_model=summary_model,
        summary_max_tokens=config.summary_max_tokens,
    )
