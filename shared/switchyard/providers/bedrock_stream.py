"""ConverseStream events → canonical chunks (the streaming half of :mod:`bedrock_wire`).

Bedrock streams ``messageStart`` (role), per content block an optional ``contentBlockStart``
(tool calls: id and name), ``contentBlockDelta`` (``text``, ``toolUse.input`` as partial JSON,
``reasoningContent``) and ``contentBlockStop``, then ``messageStop`` (stop reason) and
``metadata`` (usage, cache tokens included). An exception event ends the stream with a failure
classified by its name. The translation keeps the OpenAI conventions, as the Anthropic stream's
does: a role chunk first, text as content deltas, each tool-use block as one tool call with its
own index, a finish chunk, then a chunk with no choices and the usage.
"""

from __future__ import annotations

import json
import time
from typing import Any

from switchyard.api.chat import Usage
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta
from switchyard.providers.bedrock_errors import classify_exception
from switchyard.providers.bedrock_wire import FINISH_REASONS, openai_usage
from switchyard.providers.classify import bad_response, classify_stream_error
from switchyard.providers.eventstream import StreamMessage


class BedrockStream:
    """One stream's translation state: feed it frames, read chunks back."""

    __slots__ = ("_created", "_id", "_model", "_stopped", "_tools", "done")

    def __init__(self, chunk_id: str, model: str) -> None:
        self._id = chunk_id
        self._model = model
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # Bedrock block index → OpenAI tool-call index
        self._stopped = False  # messageStop seen
        self.done = False  # metadata seen: nothing more will come

    def feed(self, message: StreamMessage) -> ChatCompletionChunk | None:
        """The chunk this frame stands for, if any. Raises ProviderError for an exception or
        error frame, ``bad_response`` for a payload that is not a JSON object."""
        if message.message_type == "exception":
            raise classify_exception(message.kind, message.payload)
        if message.message_type == "error":
            raise classify_stream_error(json.dumps({"error": {"type": message.kind}}).encode())
        data = _payload(message)
        match message.kind:
            case "messageStart":
                return self._chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
            case "contentBlockStart":
                return self._block_start(data.get("contentBlockIndex", 0), data.get("start") or {})
            case "contentBlockDelta":
                return self._block_delta(data.get("contentBlockIndex", 0), data.get("delta") or {})
            case "messageStop":
                self._stopped = True
                reason = data.get("stopReason")
                finish = FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"
                return self._chunk([ChunkChoice(finish_reason=finish)])
            case "metadata":
                self.done = True
                return self._chunk([], openai_usage(data.get("usage")) or Usage())
        return None  # contentBlockStop, and event types added after this was written

    def end(self) -> None:
        """At end of stream: an answer without its stop event was cut short."""
        if not self._stopped:
            raise bad_response("(the stream ended before it was complete)")

    def _block_start(self, index: int, start: dict[str, Any]) -> ChatCompletionChunk | None:
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return None
        call = len(self._tools)
        self._tools[index] = call
        function = FunctionCallDelta(name=use.get("name") or "", arguments="")
        delta = ToolCallDelta(index=call, id=use.get("toolUseId"), type="function", function=function)
        return self._chunk([ChunkChoice(delta=Delta(tool_calls=[delta]))])

    def _block_delta(self, index: int, delta: dict[str, Any]) -> ChatCompletionChunk | None:
        text = delta.get("text")
        if isinstance(text, str):
            return self._chunk([ChunkChoice(delta=Delta(content=text))])
        use = delta.get("toolUse")
        if isinstance(use, dict) and index in self._tools:
            function = FunctionCallDelta(arguments=str(use.get("input") or ""))
            call = ToolCallDelta(index=self._tools[index], function=function)
            return self._chunk([ChunkChoice(delta=Delta(tool_calls=[call]))])
        return None  # reasoningContent and citation deltas have no OpenAI counterpart

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=choices, usage=usage
        )


def _payload(message: StreamMessage) -> dict[str, Any]:
    try:
        data = json.loads(message.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_response("(not a Bedrock stream event)") from exc
    if not isinstance(data, dict):
        raise bad_response("(not a Bedrock stream event)")
    return data
