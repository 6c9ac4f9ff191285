"""Conversation memory as a stage: a call that names a conversation (``x-switchyard-conversation``
or ``metadata.conversation``) is sent with what the conversation remembers (a summary, then the
turns that fit the token bound) before its own messages, and leaves its messages and the answer
behind once the answer was served whole: a buffered answer as the caller gets it, a streamed one
when it completed, saved before the stream's final event so that the caller's next turn finds it
(a stream cut short is not remembered, nor is an answer of last resort).

The stage runs right after the persona's (the persona's memory settings apply) and before the
cache, so a cached answer is only ever one for the same conversation so far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import anyio

from switchyard.api.chat import ChatRequest, Message
from switchyard.api.stream import ChatCompletionChunk
from switchyard.config.routing import MemoryConfig
from switchyard.core.call import Answer, Call
from switchyard.core.stage import Entry
from switchyard.core.summarize import Summarizer
from switchyard.memory import (
    ConversationMemory,
    MemoryPolicy,
    conversation_of,
    policy_for,
    without_conversation,
)
from switchyard.memory.service import Recalled
from switchyard.memory.turns import StreamedAnswer, from_answer
from switchyard.state.conversations import Compaction

ANSWER_HEADER = "x-switchyard-memory"
_FALLBACK_HEADER = "x-switchyard-fallback"
_OWN_ROLES = ("system", "developer")


class MemoryStage:
    name = "memory"

    def __init__(self, memory: ConversationMemory, config: MemoryConfig, summarizer: Summarizer) -> None:
        self._memory = memory
        self._config = config
        self._summarizer = summarizer

    async def enter(self, call: Call) -> Entry | None:
        """Raises InvalidRequestError for a malformed conversation id; StateUnavailableError when
        the memory cannot be read and is configured to fail closed."""
        if not isinstance(call.request, ChatRequest):
            return None  # a conversation is a chat's: embeddings have none
        conversation_id = conversation_of(call.request, call.request_headers)
        if conversation_id is None:
            return None
        call.request = without_conversation(call.request)
        policy = policy_for(self._config, call.persona)
        if policy is None:
            call.headers[ANSWER_HEADER] = "off"
            return None
        said = [m for m in call.request.messages if m.role not in _OWN_ROLES]
        summarize = partial(self._summarizer.summarize, call=call)
        recalled = await self._memory.recall(call.tenant, conversation_id, policy, summarize)
        call.request = _with_recalled(call.request, recalled)
        call.headers[ANSWER_HEADER] = recalled.header
        return _Remember(self._memory, call.tenant, conversation_id, policy, said, recalled.compaction)


def _with_recalled(request: ChatRequest, recalled: Recalled) -> ChatRequest:
    """The remembered messages after the request's leading system messages, before the rest."""
    if not recalled.messages:
        return request
    messages = request.messages
    lead = next((i for i, m in enumerate(messages) if m.role not in _OWN_ROLES), len(messages))
    return request.model_copy(update={"messages": [*messages[:lead], *recalled.messages, *messages[lead:]]})


class _Remember(Entry):
    __slots__ = ("_answer", "_compaction", "_id", "_memory", "_policy", "_said", "_saved", "_tenant")

    def __init__(
        self,
        memory: ConversationMemory,
        tenant: str,
        conversation_id: str,
        policy: MemoryPolicy,
        said: list[Message],
        compaction: Compaction | None,
    ) -> None:
        self._memory = memory
        self._tenant = tenant
        self._id = conversation_id
        self._policy = policy
        self._said = said
        self._compaction = compaction
        self._answer: Message | None = None
        self._saved = False

    async def answered(self, call: Call, answer: Answer) -> Answer:
        completion = answer.parsed()
        if completion.choices and _FALLBACK_HEADER not in call.headers:
            self._answer = from_answer(completion.choices[0].message)
        return answer

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        return self._kept(call, chunks)

    async def _kept(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        streamed = StreamedAnswer()
        async for chunk in chunks:
            streamed.add(chunk)
            yield chunk
        if _FALLBACK_HEADER in call.headers:
            return
        # Only a stream that ran to its end gets here. Saved before the stream's last event is
        # written: a caller that sends its next turn once the stream ended finds this one.
        self._saved = True
        with anyio.CancelScope(shield=True):
            await self._save(streamed.message())

    async def leave(self, call: Call, served: bool) -> None:
        if not self._saved:
            await self._save(self._answer if served else None)

    async def _save(self, answer: Message | None) -> None:
        await self._memory.remember(
            self._tenant, self._id, self._policy, self._said, answer, self._compaction
        )
