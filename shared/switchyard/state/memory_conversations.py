"""The in-memory ``ConversationStore``: one process's conversations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from time import time

from switchyard.state.conversations import Compaction, Conversation, NewTurn, Turn


@dataclass(slots=True)
class _Stored:
    head: Conversation
    turns: list[Turn] = field(default_factory=list)
    next_seq: int = 0


class MemoryConversationStore:
    def __init__(self, *, clock: Callable[[], float] = time) -> None:
        self._conversations: dict[tuple[str, str], _Stored] = {}
        self._clock = clock

    def _live(self, tenant: str, conversation_id: str) -> _Stored | None:
        stored = self._conversations.get((tenant, conversation_id))
        if stored is None or stored.head.expires_at <= self._clock():
            return None
        return stored

    async def load(self, tenant: str, conversation_id: str) -> Conversation | None:
        stored = self._live(tenant, conversation_id)
        if stored is None:
            return None
        now, floor = self._clock(), stored.head.floor
        turns = tuple(t for t in stored.turns if t.seq >= floor and t.expires_at > now)
        return replace(stored.head, turns=turns)

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
        stored = self._live(tenant, conversation_id)
        if stored is None:
            stored = _Stored(Conversation((), created_at=now))
            self._conversations[(tenant, conversation_id)] = stored
        for turn in turns:
            stored.turns.append(Turn(stored.next_seq, turn.message, turn.tokens, now, expires_at))
            stored.next_seq += 1
        head = replace(stored.head, updated_at=now, expires_at=expires_at)
        if compaction is not None:
            head = replace(
                head,
                floor=compaction.floor,
                summary=compaction.summary,
                summary_tokens=compaction.summary_tokens,
            )
            stored.turns = [t for t in stored.turns if t.seq >= compaction.floor]
        stored.head = head

    async def delete(self, tenant: str, conversation_id: str) -> bool:
        stored = self._conversations.pop((tenant, conversation_id), None)
        return stored is not None and stored.head.expires_at > self._clock()
