"""Chat messages as remembered turns: their JSON, their size in tokens, and a streamed answer
put back together."""

from __future__ import annotations

from pydantic import ValidationError

from switchyard.api.chat import AssistantMessage, FunctionCall, Message, TextPart, ToolCall
from switchyard.api.stream import ChatCompletionChunk
from switchyard.observability import logger

_OVERHEAD_TOKENS = 4  # a message's role and framing, as chat formats count them


def encoded(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def decoded(raw: bytes) -> Message | None:
    """The message; None (logged) for one that no longer reads as a message."""
    try:
        return Message.model_validate_json(raw)
    except ValidationError:
        logger.warning("unreadable remembered turn skipped")
        return None


def tokens_of(message: Message) -> int:
    """About four characters a token, like the gateway's usage estimates."""
    chars = 0
    content = message.content
    if isinstance(content, str):
        chars += len(content)
    elif content:
        chars += sum(len(p.text) for p in content if isinstance(p, TextPart))
    for call in message.tool_calls or ():
        chars += len(call.function.name) + len(call.function.arguments)
    return _OVERHEAD_TOKENS + -(-chars // 4)


def from_answer(answer: AssistantMessage) -> Message:
    return Message(
        role="assistant", content=answer.content, tool_calls=answer.tool_calls, refusal=answer.refusal
    )


class StreamedAnswer:
    """A streamed answer's first choice, put back together chunk by chunk."""

    __slots__ = ("_calls", "_refusal", "_text")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                self._text.append(delta.content)
            if delta.refusal:
                self._refusal.append(delta.refusal)
            for call in delta.tool_calls or ():
                parts = self._calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                parts["id"] = call.id or parts["id"]
                if call.function is not None:
                    parts["name"] += call.function.name or ""
                    parts["arguments"] += call.function.arguments or ""

    def message(self) -> Message:
        calls = [
            ToolCall(id=c["id"], function=FunctionCall(name=c["name"], arguments=c["arguments"]))
            for _, c in sorted(self._calls.items())
        ]
        return Message(
            role="assistant",
            content="".join(self._text) if self._text or not calls else None,
            tool_calls=calls or None,
            refusal="".join(self._refusal) or None,
        )
