"""Client dialect writers: canonical chunks → the bytes of an SSE response.

:class:`OpenAIWriter` writes ``data: {chunk}`` events and ``data: [DONE]``; :class:`AnthropicWriter`
writes the Messages event sequence (``message_start``, ``content_block_start`` / ``_delta`` /
``_stop``, ``message_delta`` with usage, ``message_stop``). Both write the cost, known only at the
end, as an SSE comment (``: x-switchyard-cost-usd=…``) that SDKs skip, and end a failed stream with
an error event in their dialect: ``data: {"error": {...}}`` (what the ``openai`` SDK raises on) or
``event: error`` (what the ``anthropic`` SDK raises on); the stream then stops.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic_core import to_json

from switchyard.api.chat import Usage
from switchyard.api.stream import ChatCompletionChunk, ToolCallDelta
from switchyard.dialects.anthropic import STOP_REASONS, anthropic_usage, message_id
from switchyard.dialects.anthropic_search import anthropic_citations, search_results
from switchyard.errors import SwitchyardError
from switchyard.http.errors import error_body

_DONE = b"data: [DONE]\n\n"


def cost_comment(cost: str) -> bytes:
    return b": x-switchyard-cost-usd=" + cost.encode() + b"\n\n"


class StreamWriter(Protocol):
    def chunk(self, chunk: ChatCompletionChunk) -> bytes:
        """The bytes for one chunk (possibly none)."""
        ...

    def end(self, usage: Usage, cost: str) -> bytes:
        """The closing bytes of a complete stream; ``usage`` is what was accounted."""
        ...

    def error(self, exc: SwitchyardError, cost: str) -> bytes:
        """The closing bytes of a stream that failed after it began."""
        ...


class OpenAIWriter:
    """Chunks as they came (an OpenAI upstream's own bytes when it was one). The usage chunk goes
    out only when the client asked for it (``stream_options.include_usage``); the gateway asks
    upstreams for usage either way, to account it."""

    __slots__ = ("_include_usage", "_last", "_usage_sent")

    def __init__(self, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._usage_sent = False
        self._last: ChatCompletionChunk | None = None

    def chunk(self, chunk: ChatCompletionChunk) -> bytes:
        self._last = chunk
        if chunk.usage is not None:
            if not self._include_usage:
                if not chunk.choices:
                    return b""
                chunk = chunk.model_copy(update={"usage": None})  # usage on a content chunk (Gemini)
            else:
                self._usage_sent = True
        return b"data: " + chunk.to_json() + b"\n\n"

    def end(self, usage: Usage, cost: str) -> bytes:
        tail = b""
        if self._include_usage and not self._usage_sent:
            # The upstream sent no usage (or the gateway could not ask for it): the estimate.
            last = self._last or ChatCompletionChunk()
            final = ChatCompletionChunk(id=last.id, created=last.created, model=last.model, usage=usage)
            tail = b"data: " + final.to_json() + b"\n\n"
        return tail + cost_comment(cost) + _DONE

    def error(self, exc: SwitchyardError, cost: str) -> bytes:
        return cost_comment(cost) + b"data: " + error_body(exc, "openai") + b"\n\n"


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + to_json(payload) + b"\n\n"


class AnthropicWriter:
    """The Messages event sequence from chunks of the first choice. Text and tool calls become
    content blocks in the order they arrive; the stop reason and usage wait for the end, since
    OpenAI-dialect upstreams send usage after the finish reason."""

    __slots__ = (
        "_block",
        "_blocks",
        "_cited",
        "_fallback_id",
        "_model",
        "_next",
        "_open_kind",
        "_results",
        "_started",
        "_stop",
    )

    def __init__(self, *, fallback_id: str, model: str) -> None:
        self._fallback_id = fallback_id
        self._model = model
        self._started = False
        self._next = 0  # index of the next content block
        self._block: int | None = None  # the open block's index
        self._open_kind: str | None = None
        self._blocks: dict[int, int] = {}  # tool-call index → block index
        self._stop: str | None = None
        self._results: list[Any] | None = None  # a web search's results (anthropic_search)
        self._cited: set[str] = set()

    def chunk(self, chunk: ChatCompletionChunk) -> bytes:
        out = [] if self._started else [self._start(chunk.id, chunk.model)]
        self._results = search_results(chunk.model_extra) or self._results
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # Anthropic has one answer per message
            delta = choice.delta
            text = delta.content or delta.refusal
            if text:
                if self._open_kind != "text":
                    out.append(self._open({"type": "text", "text": ""}, "text"))
                out.append(self._delta(self._block, {"type": "text_delta", "text": text}))
            if delta.model_extra and delta.model_extra.get("annotations"):
                out.extend(self._citations(delta.model_extra["annotations"]))
            for call in delta.tool_calls or ():
                out.extend(self._tool(call))
            if choice.finish_reason:
                self._stop = STOP_REASONS.get(choice.finish_reason, "end_turn")
        return b"".join(out)

    def end(self, usage: Usage, cost: str) -> bytes:
        out = [] if self._started else [self._start("", "")]
        out.append(self._close())
        counts = anthropic_usage(usage).model_dump(exclude_none=True)
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        event: dict[str, Any] = {"type": "message_delta", "delta": delta, "usage": counts}
        if self._results:
            event["search_results"] = self._results
        out.append(_event("message_delta", event))
        out.append(cost_comment(cost))
        out.append(_event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error(self, exc: SwitchyardError, cost: str) -> bytes:
        return cost_comment(cost) + b"event: error\ndata: " + error_body(exc, "anthropic") + b"\n\n"

    def _start(self, chunk_id: str, model: str) -> bytes:
        self._started = True
        message: dict[str, Any] = {
            "id": message_id(chunk_id or self._fallback_id),
            "type": "message",
            "role": "assistant",
            "model": model or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Known only at the end for most upstreams: message_delta carries the real counts.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def _tool(self, call: ToolCallDelta) -> list[bytes]:
        out: list[bytes] = []
        function = call.function
        if call.id is not None or call.index not in self._blocks:
            block = {
                "type": "tool_use",
                "id": call.id or f"toolu_{self._fallback_id}_{call.index}",
                "name": (function.name if function else None) or "",
                "input": {},
            }
            out.append(self._open(block, "tool_use"))
            self._blocks[call.index] = self._next - 1
        if function is not None and function.arguments:
            partial = {"type": "input_json_delta", "partial_json": function.arguments}
            out.append(self._delta(self._blocks[call.index], partial))
        return out

    def _citations(self, annotations: Any) -> list[bytes]:
        """``citations_delta`` events on the open text block, once per source (a citation needs
        the text it belongs to: none without an open text block)."""
        if self._open_kind != "text":
            return []
        out = []
        for citation in anthropic_citations(annotations, self._results):
            if citation["url"] not in self._cited:
                self._cited.add(citation["url"])
                delta = {"type": "citations_delta", "citation": citation}
                out.append(self._delta(self._block, delta))
        return out

    def _open(self, block: dict[str, Any], kind: str) -> bytes:
        closed = self._close()
        self._block, self._open_kind = self._next, kind
        self._next += 1
        start = {"type": "content_block_start", "index": self._block, "content_block": block}
        return closed + _event("content_block_start", start)

    def _close(self) -> bytes:
        if self._block is None:
            return b""
        index, self._block, self._open_kind = self._block, None, None
        return _event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _delta(self, index: int | None, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
