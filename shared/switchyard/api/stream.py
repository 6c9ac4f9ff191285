"""OpenAI ``chat.completion.chunk`` models: the gateway's canonical stream.

Every provider adapter's ``stream`` yields :class:`ChatCompletionChunk` values whatever the upstream
dialect; the client-side writers (:mod:`switchyard.http.sse`) turn them into OpenAI SSE or
Anthropic events. Parsing is lenient on purpose (plain strings, defaults for missing ids): once the
first token has gone to the client a chunk that fails validation cannot be retried elsewhere, so
only what the gateway needs to read is required.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

from switchyard.api.chat import ChatCompletion, Usage


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCallDelta(_Open):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Open):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class Delta(_Open):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None


class ChunkChoice(_Open):
    index: int = 0
    delta: Delta = Delta()
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _with_finish_reason(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # OpenAI always writes ``"finish_reason": null`` until the end; clients index it directly.
        data: dict[str, Any] = handler(self)
        data.setdefault("finish_reason", None)
        return data


class ChatCompletionChunk(_Open):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: Usage | None = None
    system_fingerprint: str | None = None
    # The upstream's own JSON when it came in this dialect: written to OpenAI clients as is.
    _raw: bytes | None = PrivateAttr(default=None)

    def keep_raw(self, raw: bytes) -> None:
        self._raw = raw

    @property
    def raw_json(self) -> bytes | None:
        return self._raw

    def to_json(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    def edited(self, **update: Any) -> ChatCompletionChunk:
        """A copy with ``update`` applied, without the upstream's JSON (it no longer says what
        the chunk holds)."""
        copy = self.model_copy(update=update)
        copy._raw = None
        return copy

    def changed(self) -> ChatCompletionChunk:
        """This chunk, after its fields were changed in place (by a stream filter that owns it):
        the upstream's JSON no longer says what it holds."""
        self._raw = None
        return self

    @property
    def carries_token(self) -> bool:
        """True once the chunk says something a client would show or account: text, a tool call, a
        refusal, a finish reason or usage. A role-only opening chunk does not, so a stream that
        fails right after it is still the attempt loop's to fail over."""
        if self.usage is not None:
            return True
        for choice in self.choices:
            if choice.finish_reason:
                return True
            delta = choice.delta
            if delta.content or delta.tool_calls or delta.refusal:
                return True
            # Dialect extras such as reasoning_content (DeepSeek, vLLM) count as output too.
            if delta.model_extra and any(delta.model_extra.values()):
                return True
        return False


def output_chars(chunk: ChatCompletionChunk) -> int:
    """Characters of output in ``chunk`` (text, refusals, tool names and arguments), for usage
    estimates when an upstream never reports usage."""
    total = 0
    for choice in chunk.choices:
        delta = choice.delta
        total += len(delta.content or "") + len(delta.refusal or "")
        for call in delta.tool_calls or ():
            if call.function is not None:
                total += len(call.function.name or "") + len(call.function.arguments or "")
    return total


def chunks_of(completion: ChatCompletion) -> list[ChatCompletionChunk]:
    """A complete answer as the stream that would have carried it: per choice, its role, its
    text, its tool calls and its finish reason; then the usage (a replayed answer, streamed)."""
    chunks: list[ChatCompletionChunk] = []

    def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion.id, created=completion.created, model=completion.model, choices=choices, usage=usage
        )

    for choice in completion.choices:
        message = choice.message
        chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(role="assistant"))]))
        if message.content or message.refusal:
            delta = Delta(content=message.content, refusal=message.refusal)
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=delta)]))
        calls = [
            ToolCallDelta(
                index=i,
                id=call.id,
                type="function",
                function=FunctionCallDelta(name=call.function.name, arguments=call.function.arguments),
            )
            for i, call in enumerate(message.tool_calls or ())
        ]
        if calls:
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(tool_calls=calls))]))
        finish = ChunkChoice(index=choice.index, finish_reason=choice.finish_reason or "stop")
        chunks.append(chunk([finish]))
    if completion.usage is not None:
        chunks.append(chunk([], completion.usage))
    return chunks
