"""Which remembered turns go with a call, and which are forgotten: pure arithmetic on tokens.

Everything is sent while the turns and the summary fit in ``max_tokens``. Past it the oldest
turns are forgotten until what is left fits in ``kept_tokens`` (leaving room for the summary
when the forgotten turns are summarized), so a conversation is compacted once in a while, not at
every turn. What is kept always starts with a user turn: a tool result without the call that
asked for it, or an answer without its question, is not a conversation a provider accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchyard.api.chat import Message
from switchyard.memory.policy import MemoryPolicy
from switchyard.state.conversations import Turn

type Remembered = tuple[Turn, Message]


@dataclass(frozen=True, slots=True)
class Window:
    kept: tuple[Remembered, ...]  # sent with the call, oldest first
    forgotten: tuple[Remembered, ...]  # the oldest, to drop or summarize (empty: nothing to do)

    @property
    def floor(self) -> int:
        """The number of the first turn kept (past the last one when none is)."""
        if self.kept:
            return self.kept[0][0].seq
        return self.forgotten[-1][0].seq + 1 if self.forgotten else 0


def window(turns: Sequence[Remembered], summary_tokens: int, policy: MemoryPolicy) -> Window:
    if summary_tokens + sum(t.tokens for t, _ in turns) <= policy.max_tokens:
        return Window(tuple(turns), ())
    room = policy.kept_tokens - (
        policy.summary_max_tokens if policy.overflow == "summarize" else summary_tokens
    )
    start, used = len(turns), 0
    while start > 0 and used + turns[start - 1][0].tokens <= room:
        start -= 1
        used += turns[start][0].tokens
    while start < len(turns) and turns[start][1].role != "user":
        start += 1
    return Window(tuple(turns[start:]), tuple(turns[:start]))
