"""Text filters over a streamed answer, holding back only what a filter needs.

Each piece of text a chunk carries belongs to a channel: a choice's content, its refusal, or the
arguments of one of its tool calls. A channel keeps the text it has not released yet; a
:class:`TextFilter` says, for that pending text, how much may go out now and what it becomes
(redacted, restored) — or raises to end the stream. The chunk goes on with what was released in
place of what it carried; a chunk left with nothing to say is dropped. When a choice finishes
(or the stream ends) its channels are flushed, so the text arrives before the finish reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta

CONTEXT = 16  # released text kept as context, for filters whose rules look behind


class TextFilter(Protocol):
    def step(self, text: str, context: str, final: bool) -> tuple[int, str]:
        """Of the pending ``text`` (``context``: the end of what was released before it), how
        many characters go out now, and what they become. ``final``: no more text will come, so
        everything must go. May raise (a SwitchyardError ends the stream with an error event)."""
        ...


class _Channel:
    __slots__ = ("_context", "_filter", "_pending")

    def __init__(self, text_filter: TextFilter) -> None:
        self._filter = text_filter
        self._pending = ""
        self._context = ""

    def feed(self, text: str, *, final: bool = False) -> str:
        self._pending += text
        if not self._pending:
            return ""
        count, out = self._filter.step(self._pending, self._context, final)
        released, self._pending = self._pending[:count], self._pending[count:]
        self._context = (self._context + released)[-CONTEXT:]
        return out


type ChannelKey = tuple[int, str, int]  # choice index, "content" | "refusal" | "tool", tool index


class Filtered:
    """The chunks of one stream with one filter applied to every channel."""

    def __init__(self, make_filter: Callable[[], TextFilter]) -> None:
        self._make = make_filter
        self._channels: dict[ChannelKey, _Channel] = {}
        self._template: ChatCompletionChunk | None = None

    async def run(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in chunks:
            if self._template is None:
                self._template = chunk.edited()  # kept for its id and model (it is changed below)
            out = self._rewrite(chunk)
            if out is not None:
                yield out
        tail = self._flush_all()
        if tail is not None:
            yield tail

    def _feed(self, key: ChannelKey, text: str | None, final: bool) -> str | None:
        channel = self._channels.get(key)
        if channel is None:
            if not text and not final:
                return text
            channel = self._channels[key] = _Channel(self._make())
        released = channel.feed(text or "", final=final)
        return released or None

    def _rewrite(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk | None:
        """The chunk with its text replaced by what its channels release (changed in place: the
        stream owns its chunks), or None when nothing is left to send."""
        kept = [c for c in chunk.choices if self._choice(c)]
        if not kept and chunk.usage is None and chunk.choices:
            return None
        chunk.choices = kept
        return chunk.changed()

    def _choice(self, choice: ChunkChoice) -> bool:
        """Rewrites the choice's delta; False when it has nothing left to say."""
        final = bool(choice.finish_reason)
        index, delta = choice.index, choice.delta
        delta.content = self._feed((index, "content", 0), delta.content, final)
        delta.refusal = self._feed((index, "refusal", 0), delta.refusal, final)
        delta.tool_calls = self._tool_calls(index, delta.tool_calls, final)
        return bool(
            final or delta.role or delta.content or delta.refusal or delta.tool_calls or delta.model_extra
        )

    def _tool_calls(
        self, index: int, calls: list[ToolCallDelta] | None, final: bool
    ) -> list[ToolCallDelta] | None:
        out: list[ToolCallDelta] = []
        for call in calls or ():
            function = call.function
            pending = function.arguments if function else None
            arguments = self._feed((index, "tool", call.index), pending, False)
            if function is not None:
                function.arguments = arguments
            if arguments or call.id or (function and function.name):
                out.append(call)
        if final:
            out += self._flush_tools(index)
        return out or None

    def _flush_tools(self, index: int) -> list[ToolCallDelta]:
        out = []
        for key in [k for k in self._channels if k[0] == index and k[1] == "tool"]:
            rest = self._feed(key, None, True)
            if rest:
                out.append(ToolCallDelta(index=key[2], function=FunctionCallDelta(arguments=rest)))
        return out

    def _flush_all(self) -> ChatCompletionChunk | None:
        """What is still held once the stream ended without its choices finishing."""
        choices: list[ChunkChoice] = []
        for index in sorted({k[0] for k in self._channels}):
            content, refusal = self._rest((index, "content", 0)), self._rest((index, "refusal", 0))
            calls = self._flush_tools(index) or None
            if content or refusal or calls:
                delta = Delta(content=content, refusal=refusal, tool_calls=calls)
                choices.append(ChunkChoice(index=index, delta=delta))
        if not choices:
            return None
        last = self._template or ChatCompletionChunk()
        return ChatCompletionChunk(id=last.id, created=last.created, model=last.model, choices=choices)

    def _rest(self, key: ChannelKey) -> str | None:
        return self._feed(key, None, True) if key in self._channels else None
