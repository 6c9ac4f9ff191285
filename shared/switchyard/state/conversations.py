"""The ``ConversationStore`` port: the remembered turns of a conversation, per tenant.

A conversation is keyed by (tenant, conversation id): another tenant using the same id has a
conversation of its own. It is a sequence of turns (one chat message each, as JSON) numbered in
the order they were saved, an optional summary of turns that were forgotten, and a floor: turns
numbered below it are forgotten (dropped, or folded into the summary). A turn is kept until its
``expires_at``; the conversation (its summary, its numbering) until the ``expires_at`` of its
last save.

Turns have no size limit here: an adapter whose items are bounded (DynamoDB's 400 KB) splits a
large turn over several items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NewTurn:
    message: bytes  # one chat message, JSON
    tokens: int  # its size in tokens (estimated), for the memory's token bound


@dataclass(frozen=True, slots=True)
class Turn:
    seq: int
    message: bytes
    tokens: int
    at: float  # when it was saved (epoch s)
    expires_at: float


@dataclass(frozen=True, slots=True)
class Compaction:
    """Forget the turns numbered below ``floor``; ``summary`` replaces the summary."""

    floor: int
    summary: str = ""
    summary_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Conversation:
    turns: tuple[Turn, ...]  # the remembered turns (at or above the floor, not expired), in order
    summary: str = ""
    summary_tokens: int = 0
    floor: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    expires_at: float = 0.0

    @property
    def tokens(self) -> int:
        return self.summary_tokens + sum(t.tokens for t in self.turns)


class ConversationStore(Protocol):
    async def load(self, tenant: str, conversation_id: str) -> Conversation | None:
        """The conversation as last saved (a save that returned is seen by the next load, from
        any instance); None when there is none or it has expired. Raises
        ``StateUnavailableError``."""
        ...

    async def save(
        self,
        tenant: str,
        conversation_id: str,
        turns: Sequence[NewTurn],
        *,
        now: float,
        expires_at: float,
        compaction: Compaction | None = None,
    ) -> None:
        """Append ``turns`` in order after every turn saved so far (concurrent saves both land,
        each in one piece), keep them and the conversation until ``expires_at``, and apply
        ``compaction``. Creates the conversation. Raises ``StateUnavailableError``."""
        ...

    async def delete(self, tenant: str, conversation_id: str) -> bool:
        """Forget the conversation and every turn; False when there was none. Raises
        ``StateUnavailableError``."""
        ...
