"""A streamed answer's chunks put back together into the completion they carried: the inverse of
:func:`switchyard.api.stream.chunks_of` (the cache stores a stream this way, to replay it as a
stream or answer it buffered).

Per choice: the role, the text and refusal concatenated, the tool calls by index (id and name
from their first delta, arguments concatenated) and the finish reason; from the chunks as a whole:
the id, creation time, model, fingerprint, the last usage, and any other top-level field an
upstream sends (citations, say), the last value of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from switchyard.api.chat import (
    AssistantMessage,
    ChatCompletion,
    Choice,
    FinishReason,
    FunctionCall,
    ToolCall,
    Usage,
)
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice

_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Choice:
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None


class StreamAssembly:
    """Feed it every chunk in order (:meth:`add`); :attr:`complete` once every choice finished."""

    __slots__ = ("_choices", "_extra", "_head", "_usage")

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self._head: ChatCompletionChunk | None = None
        self._usage: Usage | None = None
        self._extra: dict[str, Any] = {}

    def add(self, chunk: ChatCompletionChunk) -> None:
        if self._head is None:
            self._head = chunk
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.model_extra:
            self._extra.update(chunk.model_extra)
        for choice in chunk.choices:
            self._add_choice(choice)

    def _add_choice(self, choice: ChunkChoice) -> None:
        state = self._choices.setdefault(choice.index, _Choice())
        delta = choice.delta
        if delta.content:
            state.text.append(delta.content)
        if delta.refusal:
            state.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            part = state.calls.setdefault(call.index, _Call())
            part.id = part.id or (call.id or "")
            if call.function is not None:
                part.name = part.name or (call.function.name or "")
                part.arguments.append(call.function.arguments or "")
        if choice.finish_reason:
            state.finish_reason = choice.finish_reason

    @property
    def complete(self) -> bool:
        """Every choice seen has its finish reason (a stream cut short has not)."""
        return bool(self._choices) and all(c.finish_reason for c in self._choices.values())

    def completion(self, usage: Usage | None = None) -> ChatCompletion:
        """The completion; ``usage`` stands in when the stream reported none."""
        head = self._head or ChatCompletionChunk()
        choices = [_choice(index, self._choices[index]) for index in sorted(self._choices)]
        return ChatCompletion.model_validate(
            {
                **self._extra,
                "id": head.id,
                "created": head.created,
                "model": head.model,
                "choices": choices,
                "usage": self._usage or usage,
                "system_fingerprint": head.system_fingerprint,
            }
        )


def _choice(index: int, state: _Choice) -> Choice:
    calls = [
        ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments="".join(c.arguments)))
        for _, c in sorted(state.calls.items())
    ]
    # No text: null beside tool calls or a refusal (as OpenAI sends it), else an empty answer.
    text = "".join(state.text) if state.text else (None if calls or state.refusal else "")
    message = AssistantMessage(
        content=text,
        tool_calls=calls or None,
        refusal="".join(state.refusal) or None,
    )
    reason = state.finish_reason if state.finish_reason in _FINISH_REASONS else "stop"
    return Choice(index=index, message=message, finish_reason=cast(FinishReason, reason))
