"""Usage when the upstream reported none: estimated from text, about four characters a token, so
a cut-short stream or a terse upstream is never free."""

from __future__ import annotations

from switchyard.api.chat import ChatCompletion, ChatRequest, TextPart, Usage
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.requests import CanonicalRequest
from switchyard.api.stream import ChatCompletionChunk, output_chars


def _tokens(chars: int) -> int:
    return -(-chars // 4)


def estimate_usage(request: CanonicalRequest, completion_chars: int) -> Usage:
    """Usage guessed from text when the upstream sent none (four characters a token)."""
    if isinstance(request, EmbeddingRequest):
        prompt = request.estimated_tokens()
    else:
        prompt = _tokens(_prompt_chars(request))
    completion = _tokens(completion_chars)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _prompt_chars(request: ChatRequest) -> int:
    chars = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif content:
            chars += sum(len(p.text) for p in content if isinstance(p, TextPart))
    return chars


def completion_usage(request: ChatRequest, completion: ChatCompletion) -> tuple[Usage, bool]:
    """A buffered answer's usage, and whether it had to be estimated."""
    if completion.usage is not None:
        return completion.usage, False
    chars = 0
    for choice in completion.choices:
        message = choice.message
        chars += len(message.content or "")
        chars += sum(len(c.function.name) + len(c.function.arguments) for c in message.tool_calls or ())
    return estimate_usage(request, chars), True


def embedding_usage(request: EmbeddingRequest, response: EmbeddingResponse) -> tuple[Usage, bool]:
    """An embeddings answer's usage (input tokens only), and whether it had to be estimated."""
    if response.usage is not None and response.usage.prompt_tokens:
        prompt = response.usage.prompt_tokens
        return Usage(prompt_tokens=prompt, total_tokens=response.usage.total_tokens or prompt), False
    return estimate_usage(request, 0), True


class StreamUsage:
    """What a stream has reported so far: the upstream's usage, if any, and the output's length."""

    __slots__ = ("chars", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.chars = 0

    def observe(self, chunk: ChatCompletionChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.choices:
            self.chars += output_chars(chunk)

    def final(self, request: CanonicalRequest) -> tuple[Usage, bool]:
        """The usage to account, and whether it had to be estimated."""
        if self.usage is not None:
            return self.usage, False
        return estimate_usage(request, self.chars), True
