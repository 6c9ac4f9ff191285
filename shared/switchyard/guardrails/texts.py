"""Where the text of a request and of an answer is, to read it and to rewrite it.

A chat request's text: each message's content (a string or its text parts) and the arguments of
the tool calls it carries. An embeddings request's: its string inputs (token arrays carry no text
the gateway can read: they pass unchecked). An answer's: each choice's content, refusal and tool-
call arguments. Rewriting returns the same object when nothing changed (no copy on the common
path), and a new one otherwise; the originals are never mutated (a cached or shared request stays
as it was).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from switchyard.api.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    ContentPart,
    Message,
    TextPart,
    ToolCall,
)
from switchyard.api.embeddings import EmbeddingRequest
from switchyard.api.requests import CanonicalRequest

type Rewrite = Callable[[str], str]


def message_texts(message: Message) -> Iterator[str]:
    content = message.content
    if isinstance(content, str):
        if content:
            yield content
    elif content:
        yield from (p.text for p in content if isinstance(p, TextPart) and p.text)
    for call in message.tool_calls or ():
        if call.function.arguments:
            yield call.function.arguments


def request_texts(request: CanonicalRequest) -> list[str]:
    if isinstance(request, EmbeddingRequest):
        return [text for text in _inputs(request) if isinstance(text, str) and text]
    return [text for message in request.messages for text in message_texts(message)]


def rewrite_request(request: CanonicalRequest, rewrite: Rewrite) -> CanonicalRequest:
    if isinstance(request, EmbeddingRequest):
        return _rewrite_inputs(request, rewrite)
    return _rewrite_messages(request, rewrite)


def _inputs(request: EmbeddingRequest) -> list[object]:
    raw = request.input
    return [raw] if isinstance(raw, str) else list(raw)


def _rewrite_inputs(request: EmbeddingRequest, rewrite: Rewrite) -> EmbeddingRequest:
    raw = request.input
    if isinstance(raw, str):
        new: object = rewrite(raw)
        changed = new != raw
    else:
        new = [rewrite(item) if isinstance(item, str) else item for item in raw]
        changed = new != raw
    return request.model_copy(update={"input": new}) if changed else request


def _rewrite_messages(request: ChatRequest, rewrite: Rewrite) -> ChatRequest:
    messages = [_message(m, rewrite) for m in request.messages]
    if all(new is old for new, old in zip(messages, request.messages, strict=True)):
        return request
    return request.model_copy(update={"messages": messages})


def _message(message: Message, rewrite: Rewrite) -> Message:
    update: dict[str, object] = {}
    content = message.content
    if isinstance(content, str) and content:
        new = rewrite(content)
        if new != content:
            update["content"] = new
    elif isinstance(content, list):
        parts = [_part(p, rewrite) for p in content]
        if any(new is not old for new, old in zip(parts, content, strict=True)):
            update["content"] = parts
    calls = _calls(message.tool_calls, rewrite)
    if calls is not None:
        update["tool_calls"] = calls
    return message.model_copy(update=update) if update else message


def _part(part: ContentPart, rewrite: Rewrite) -> ContentPart:
    if isinstance(part, TextPart) and part.text:
        new = rewrite(part.text)
        if new != part.text:
            return part.model_copy(update={"text": new})
    return part


def _calls(calls: list[ToolCall] | None, rewrite: Rewrite) -> list[ToolCall] | None:
    """The tool calls rewritten, or None when none changed."""
    if not calls:
        return None
    changed = False
    out: list[ToolCall] = []
    for call in calls:
        arguments = rewrite(call.function.arguments) if call.function.arguments else call.function.arguments
        if arguments != call.function.arguments:
            changed = True
            call = call.model_copy(
                update={"function": call.function.model_copy(update={"arguments": arguments})}
            )
        out.append(call)
    return out if changed else None


def answer_texts(completion: ChatCompletion) -> list[str]:
    texts: list[str] = []
    for choice in completion.choices:
        message = choice.message
        texts += [t for t in (message.content, message.refusal) if t]
        texts += [c.function.arguments for c in message.tool_calls or () if c.function.arguments]
    return texts


def rewrite_answer(completion: ChatCompletion, rewrite: Rewrite) -> ChatCompletion:
    choices = []
    for choice in completion.choices:
        message = _answer_message(choice.message, rewrite)
        choices.append(
            choice if message is choice.message else choice.model_copy(update={"message": message})
        )
    if all(new is old for new, old in zip(choices, completion.choices, strict=True)):
        return completion
    return completion.edited(choices=choices)


def _answer_message(message: AssistantMessage, rewrite: Rewrite) -> AssistantMessage:
    update: dict[str, object] = {}
    for name in ("content", "refusal"):
        text = getattr(message, name)
        if text:
            new = rewrite(text)
            if new != text:
                update[name] = new
    calls = _calls(message.tool_calls, rewrite)
    if calls is not None:
        update["tool_calls"] = calls
    return message.model_copy(update=update) if update else message
