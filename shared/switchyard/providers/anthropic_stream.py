"""Anthropic Messages SSE events → canonical chunks (the streaming half of :mod:`anthropic_wire`).

Anthropic streams ``message_start`` (id, model, input usage), then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``, thinking
and citation deltas) / ``content_block_stop``, then ``message_delta`` (stop reason, cumulative
usage) and ``message_stop``; ``ping`` may come at any time and ``error`` ends the stream with a
failure. The translation keeps the OpenAI conventions: a role chunk first, text as ``content``
deltas, each ``tool_use`` block as one tool call (its own ``index``) whose arguments are the
streamed JSON, a finish chunk, then a chunk with no choices and the usage (cache tokens included).
Thinking blocks have no OpenAI counterpart and are dropped, as in the buffered translation.
"""

from __future__ import annotations

import json
import time
from typing import Any

from switchyard.api.anthropic import AnthropicUsage
from switchyard.api.chat import Usage
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta
from switchyard.providers.anthropic_wire import FINISH_REASONS, openai_usage
from switchyard.providers.classify import bad_response, classify_stream_error
from switchyard.providers.sse import SSEEvent

_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class AnthropicStream:
    """One stream's translation state: feed it events, read chunks back."""

    __slots__ = ("_created", "_id", "_model", "_stop", "_tools", "_usage", "done")

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: dict[str, int] = {}
        self._tools: dict[int, int] = {}  # Anthropic block index → OpenAI tool-call index
        self._stop: str | None = None
        self.done = False  # message_stop seen

    def feed(self, event: SSEEvent) -> ChatCompletionChunk | None:
        """The chunk this event stands for, if any. Raises ProviderError for an ``error`` event and
        ``bad_response`` for an event that is not JSON."""
        if event.event == "ping":
            return None
        if event.event == "error":
            raise classify_stream_error(event.data)
        data = _event_data(event)
        match data.get("type"):
            case "message_start":
                return self._start(data.get("message") or {})
            case "content_block_start":
                return self._block_start(data.get("index", 0), data.get("content_block") or {})
            case "content_block_delta":
                return self._block_delta(data.get("index", 0), data.get("delta") or {})
            case "message_delta":
                return self._message_delta(data)
            case "message_stop":
                self.done = True
                return self.usage_chunk()
            case "error":
                raise classify_stream_error(event.data)
        return None  # content_block_stop, ping as data, and event types added after this was written

    def end(self) -> ChatCompletionChunk:
        """At end of stream without ``message_stop``: the usage chunk if the answer was complete
        (its stop reason came), else the stream was cut short."""
        if self._stop is None:
            raise bad_response("(the stream ended before it was complete)")
        return self.usage_chunk()

    def usage_chunk(self) -> ChatCompletionChunk:
        usage = AnthropicUsage.model_validate(self._usage)
        return self._chunk([], usage=openai_usage(usage))

    def _start(self, message: dict[str, Any]) -> ChatCompletionChunk:
        self._id = str(message.get("id") or "")
        self._model = str(message.get("model") or "")
        self._merge_usage(message.get("usage"))
        return self._chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])

    def _block_start(self, index: int, block: dict[str, Any]) -> ChatCompletionChunk | None:
        kind = block.get("type")
        if kind == "tool_use":
            call = len(self._tools)
            self._tools[index] = call
            function = FunctionCallDelta(name=block.get("name") or "", arguments="")
            delta = ToolCallDelta(index=call, id=block.get("id"), type="function", function=function)
            return self._chunk([ChunkChoice(delta=Delta(tool_calls=[delta]))])
        if kind == "text" and block.get("text"):
            return self._chunk([ChunkChoice(delta=Delta(content=block["text"]))])
        return None

    def _block_delta(self, index: int, delta: dict[str, Any]) -> ChatCompletionChunk | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._chunk([ChunkChoice(delta=Delta(content=delta.get("text", "")))])
        if kind == "input_json_delta" and index in self._tools:
            function = FunctionCallDelta(arguments=delta.get("partial_json", ""))
            call = ToolCallDelta(index=self._tools[index], function=function)
            return self._chunk([ChunkChoice(delta=Delta(tool_calls=[call]))])
        return None  # thinking, signature and citation deltas

    def _message_delta(self, data: dict[str, Any]) -> ChatCompletionChunk | None:
        self._merge_usage(data.get("usage"))
        reason = (data.get("delta") or {}).get("stop_reason")
        if not reason:
            return None
        self._stop = reason
        return self._chunk([ChunkChoice(finish_reason=FINISH_REASONS.get(reason, "stop"))])

    def _merge_usage(self, usage: Any) -> None:
        # message_delta counts are cumulative totals: they replace the message_start ones.
        if isinstance(usage, dict):
            for name in _USAGE_FIELDS:
                value = usage.get(name)
                if isinstance(value, int):
                    self._usage[name] = value

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=choices, usage=usage
        )


def _event_data(event: SSEEvent) -> dict[str, Any]:
    """An event's JSON object; raises ``bad_response`` for anything else."""
    try:
        data = json.loads(event.data)
    except ValueError as exc:
        raise bad_response("(not an Anthropic stream event)") from exc
    if not isinstance(data, dict):
        raise bad_response("(not an Anthropic stream event)")
    return data
