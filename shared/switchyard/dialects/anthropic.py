"""Pure translation for callers speaking Anthropic (the ``/v1/messages`` endpoint).

:func:`chat_request_from_anthropic` turns their request into the canonical :class:`ChatRequest`
(whatever provider then serves it) and :func:`anthropic_response_from_chat` turns the canonical
answer back. The provider-side pair is in :mod:`switchyard.providers.anthropic_wire`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from switchyard.api.anthropic import (
    AnthropicMessage,
    AnthropicRequest,
    AnthropicResponse,
    AnthropicUsage,
    Base64Source,
    ContentBlock,
    ImageBlock,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from switchyard.api.chat import (
    ChatCompletion,
    ChatRequest,
    ContentPart,
    FunctionCall,
    FunctionDef,
    ImagePart,
    ImageURL,
    Message,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from switchyard.dialects.anthropic_search import (
    citations_of,
    search_options,
    search_results,
    server_tool_use,
)
from switchyard.errors import InvalidRequestError
from switchyard.providers.classify import bad_response

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def chat_request_from_anthropic(request: AnthropicRequest) -> ChatRequest:
    """The canonical request for a caller speaking Anthropic; raises InvalidRequestError."""
    messages: list[Message] = []
    if request.system:
        messages.append(Message(role="system", content=_system_content(request.system)))
    for i, msg in enumerate(request.messages):
        messages.extend(_from_turn(msg, i))
    metadata = request.metadata.model_dump(exclude_none=True) if request.metadata else {}
    user = metadata.pop("user_id", None)
    return ChatRequest(
        model=request.model,
        messages=messages,
        max_tokens=request.max_tokens,
        stop=request.stop_sequences or None,
        temperature=request.temperature,
        top_p=request.top_p,
        stream=request.stream,
        user=user,
        # Other string metadata (e.g. the mock provider's mock_* keys) travels on unchanged.
        metadata={k: v for k, v in metadata.items() if isinstance(v, str)} or None,
        tools=_tools(request),
        tool_choice=_from_tool_choice(request),
        parallel_tool_calls=False if _no_parallel(request) else None,
        cache=request.cache,
        **search_options(request.model_extra),
    )


def _tools(request: AnthropicRequest) -> list[Tool] | None:
    if not request.tools:
        return None
    return [
        Tool(function=FunctionDef(name=t.name, description=t.description, parameters=t.input_schema))
        for t in request.tools
    ]


def _system_content(system: str | list[TextBlock]) -> str | list[ContentPart]:
    if isinstance(system, str):
        return system
    if any(b.model_extra and "cache_control" in b.model_extra for b in system):
        return [_text_part(b) for b in system]
    return "\n\n".join(b.text for b in system)


def _text_part(block: TextBlock) -> TextPart:
    extra = block.model_extra or {}
    # Only cache_control is carried over: it is what an Anthropic upstream needs back for prompt
    # caching, whereas e.g. citations would be rejected by an OpenAI upstream.
    if "cache_control" in extra:
        return TextPart.model_validate(
            {"type": "text", "text": block.text, "cache_control": extra["cache_control"]}
        )
    return TextPart(type="text", text=block.text)


def _from_turn(msg: AnthropicMessage, i: int) -> Iterable[Message]:
    if isinstance(msg.content, str):
        yield Message(role=msg.role, content=msg.content)
        return
    if msg.role == "assistant":
        yield _from_assistant(msg)
        return
    parts: list[ContentPart] = []
    for block in msg.content:
        if isinstance(block, ToolResultBlock):
            yield Message(role="tool", tool_call_id=block.tool_use_id, content=_result_text(block, i))
        elif isinstance(block, TextBlock):
            parts.append(_text_part(block))
        elif isinstance(block, ImageBlock):
            parts.append(ImagePart(type="image_url", image_url=ImageURL(url=_image_url(block))))
        else:
            raise InvalidRequestError(
                f"Content blocks of type '{block.type}' are not supported.", param=f"messages[{i}].content"
            )
    if parts:
        yield Message(role="user", content=parts)


def _from_assistant(msg: AnthropicMessage) -> Message:
    texts = [b.text for b in msg.content if isinstance(b, TextBlock)]
    calls = [
        ToolCall(id=b.id, function=FunctionCall(name=b.name, arguments=json.dumps(b.input)))
        for b in msg.content
        if isinstance(b, ToolUseBlock)
    ]
    # Thinking blocks have no OpenAI counterpart and are dropped.
    return Message(role="assistant", content="".join(texts) if texts else None, tool_calls=calls or None)


def _result_text(block: ToolResultBlock, i: int) -> str:
    if block.content is None or isinstance(block.content, str):
        return block.content or ""
    if any(isinstance(p, ImageBlock) for p in block.content):
        raise InvalidRequestError(
            "Images inside tool_result blocks are not supported.", param=f"messages[{i}].content"
        )
    return "".join(p.text for p in block.content if isinstance(p, TextBlock))


def _image_url(block: ImageBlock) -> str:
    source = block.source
    if isinstance(source, Base64Source):
        return f"data:{source.media_type};base64,{source.data}"
    return source.url


def _from_tool_choice(request: AnthropicRequest) -> str | dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequestError("tool_choice of type 'tool' needs a name.", param="tool_choice")
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def _no_parallel(request: AnthropicRequest) -> bool:
    return bool(request.tool_choice and request.tool_choice.disable_parallel_tool_use)


def anthropic_response_from_chat(completion: ChatCompletion) -> AnthropicResponse:
    """The Anthropic-shaped answer for a caller speaking Anthropic (first choice only); a web
    search answer's sources as :mod:`anthropic_search` says."""
    choice = completion.choices[0] if completion.choices else None
    results = search_results(completion.model_extra)
    content: list[ContentBlock] = []
    if choice and choice.message.content:
        citations = citations_of(choice.message.model_extra, results)
        text = TextBlock(text=choice.message.content, **({"citations": citations} if citations else {}))
        content.append(text)
    for call in (choice.message.tool_calls if choice else None) or ():
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            raise bad_response("(tool call arguments are not a JSON object)")
        content.append(ToolUseBlock(id=call.id, name=call.function.name, input=arguments))
    reason = choice.finish_reason if choice else None
    return AnthropicResponse(
        id=message_id(completion.id),
        model=completion.model,
        content=content,
        stop_reason=STOP_REASONS.get(reason, "end_turn") if reason else None,
        usage=anthropic_usage(completion.usage or Usage()),
        **({"search_results": results} if results else {}),
    )


def message_id(completion_id: str) -> str:
    return completion_id if completion_id.startswith("msg_") else f"msg_{completion_id}"


def anthropic_usage(usage: Usage) -> AnthropicUsage:
    """OpenAI usage in Anthropic's terms, where input_tokens excludes cache reads and writes."""
    read, write = usage.cached_tokens, usage.cache_creation_input_tokens
    searches = server_tool_use(usage)
    return AnthropicUsage(
        input_tokens=max(0, usage.prompt_tokens - read - (write or 0)),
        output_tokens=usage.completion_tokens,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=write,
        **({"server_tool_use": searches} if searches else {}),
    )
