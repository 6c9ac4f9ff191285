"""Conversation memory over the :class:`~switchyard.state.conversations.ConversationStore` port:
what a call recalls (the summary and the remembered turns that fit), and what it leaves behind
(its own messages and the answer, and the compaction its recall decided on).

The store being unreachable never costs an answer unless configured to (``fail_closed``): the
call is answered without its memory (``x-switchyard-memory: unavailable``) and the exchange is
remembered if the store is back by then. A summary that cannot be written (its model failed)
falls back to dropping the oldest turns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from time import time

from switchyard.api.chat import ChatRequest, Message
from switchyard.errors import SwitchyardError
from switchyard.memory.policy import MemoryPolicy
from switchyard.memory.summary import summary_message, summary_request
from switchyard.memory.turns import decoded, encoded, tokens_of
from switchyard.memory.window import Remembered, Window, window
from switchyard.metrics import MEMORY_SAVE_FAILED, MEMORY_SUMMARIES, MEMORY_SUMMARY_FAILED, MEMORY_UNAVAILABLE
from switchyard.metrics.sink import MetricSink
from switchyard.observability import logger
from switchyard.state.conversations import Compaction, Conversation, ConversationStore, NewTurn
from switchyard.state.ports import StateUnavailableError

# Writes a summary: the request in, the summary's text out. Raises SwitchyardError.
type Summarize = Callable[[ChatRequest], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Recalled:
    messages: list[Message]  # to send before the call's own: the summary, then the kept turns
    compaction: Compaction | None  # to save with the exchange
    header: str  # x-switchyard-memory


UNAVAILABLE = Recalled([], None, "unavailable")


class ConversationMemory:
    def __init__(
        self,
        store: ConversationStore,
        metrics: MetricSink,
        *,
        fail_closed: bool = False,
        clock: Callable[[], float] = time,
    ) -> None:
        self.store = store
        self._metrics = metrics
        self._fail_closed = fail_closed
        self._clock = clock

    async def recall(
        self, tenant: str, conversation_id: str, policy: MemoryPolicy, summarize: Summarize | None
    ) -> Recalled:
        """Raises StateUnavailableError only when configured to fail closed."""
        try:
            conversation = await self.store.load(tenant, conversation_id)
        except StateUnavailableError as exc:
            if self._fail_closed:
                raise
            self._metrics.count(MEMORY_UNAVAILABLE)
            logger.warning("conversation memory unavailable: answering without it", extra={"error": str(exc)})
            return UNAVAILABLE
        if conversation is None:
            return Recalled([], None, "recalled=0")
        turns = [(t, m) for t in conversation.turns if (m := decoded(t.message)) is not None]
        shown = window(turns, conversation.summary_tokens, policy)
        summary, compaction, note = conversation.summary, None, ""
        if shown.forgotten:
            compaction, summarized = await self._compaction(conversation, shown, policy, summarize)
            summary = compaction.summary
            note = f"; {'summarized' if summarized else 'dropped'}={len(shown.forgotten)}"
        messages = [summary_message(summary)] if summary else []
        messages += [m for _, m in shown.kept]
        return Recalled(messages, compaction, f"recalled={len(shown.kept)}{note}")

    async def _compaction(
        self, conversation: Conversation, shown: Window, policy: MemoryPolicy, summarize: Summarize | None
    ) -> tuple[Compaction, bool]:
        """The forgotten turns summarized (True) when the policy says so and the summary can be
        written; else dropped (the summary stays as it was)."""
        kept = Compaction(shown.floor, conversation.summary, conversation.summary_tokens), False
        if policy.overflow != "summarize" or summarize is None or policy.summary_model is None:
            return kept
        request = summary_request(
            policy.summary_model, conversation.summary, _messages(shown.forgotten), policy.summary_max_tokens
        )
        try:
            text = await summarize(request)
        except SwitchyardError as exc:
            self._metrics.count(MEMORY_SUMMARY_FAILED)
            logger.warning(
                "conversation summary failed: dropping the oldest turns", extra={"kind": exc.kind.value}
            )
            return kept
        if not text:
            self._metrics.count(MEMORY_SUMMARY_FAILED)
            return kept
        self._metrics.count(MEMORY_SUMMARIES)
        return Compaction(shown.floor, text, tokens_of(summary_message(text))), True

    async def remember(
        self,
        tenant: str,
        conversation_id: str,
        policy: MemoryPolicy,
        said: Sequence[Message],
        answer: Message | None,
        compaction: Compaction | None,
    ) -> None:
        """Save the exchange (``said`` and ``answer``; nothing when there is no answer) and the
        compaction. Never raises: a failure is logged and counted."""
        messages = [*said, answer] if answer is not None else []
        turns = [NewTurn(encoded(m), tokens_of(m)) for m in messages]
        if not turns and compaction is None:
            return
        now = self._clock()
        try:
            await self.store.save(
                tenant, conversation_id, turns, now=now, expires_at=now + policy.ttl_s, compaction=compaction
            )
        except StateUnavailableError as exc:
            self._metrics.count(MEMORY_SAVE_FAILED)
            logger.warning("conversation memory not saved", extra={"error": str(exc)})

    async def show(self, tenant: str, conversation_id: str) -> Conversation | None:
        """Raises StateUnavailableError."""
        return await self.store.load(tenant, conversation_id)

    async def forget(self, tenant: str, conversation_id: str) -> bool:
        """Raises StateUnavailableError."""
        return await self.store.delete(tenant, conversation_id)


def _messages(remembered: Sequence[Remembered]) -> list[Message]:
    return [m for _, m in remembered]
