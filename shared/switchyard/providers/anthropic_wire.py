"""Pure translation for the Anthropic provider: OpenAI Chat Completions → Anthropic Messages.

:func:`to_anthropic_request` (ChatRequest → Messages body) and :func:`from_anthropic_response`
(Messages response → ChatCompletion). The opposite pair, for callers speaking Anthropic, is in
:mod:`switchyard.dialects.anthropic`.

OpenAI-only sampling options (penalties, logit_bias, logprobs, seed, response_format) have no
Anthropic equivalent and are dropped, as other gateways do, rather than failing the request.
"""

from __future__ import annotations

import json
import time
from typing import Any

from switchyard.api.anthropic import (
    AnthropicResponse,
    AnthropicUsage,
    TextBlock,
    ToolUseBlock,
)
from switchyard.api.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    Choice,
    ContentPart,
    FinishReason,
    FunctionCall,
    ImagePart,
    Message,
    PromptTokensDetails,
    RefusalPart,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from switchyard.errors import InvalidRequestError
from switchyard.providers.turns import Block, alternating_turns, tool_arguments

# Anthropic requires max_tokens; OpenAI callers usually leave it out.
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TOOL_CHOICE = {"auto": "auto", "none": "none", "required": "any"}


# --- OpenAI request → Anthropic body -------------------------------------------------------------


def to_anthropic_request(request: ChatRequest, upstream_model: str) -> dict[str, Any]:
    """The Messages API body for ``request``; raises InvalidRequestError for what Anthropic cannot do."""
    if request.n is not None and request.n > 1:
        raise InvalidRequestError("Anthropic models return one choice only: n must be 1.", param="n")
    system, messages = _turns(request.messages)
    body: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": request.output_limit or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.stop_list:
        body["stop_sequences"] = request.stop_list
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)  # OpenAI allows up to 2
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
        choice = _tool_choice(request)
        if choice:
            body["tool_choice"] = choice
    return body


def _turns(messages: list[Message]) -> tuple[str | list[Block], list[dict[str, Any]]]:
    """System text, and the alternating user/assistant turns Anthropic requires."""
    system, turns = alternating_turns(messages, _text_blocks, _turn)
    # A joined string unless a block asks for prompt caching, which needs the block form.
    if any("cache_control" in b for b in system):
        return system, turns
    return "\n\n".join(b["text"] for b in system), turns


def _turn(msg: Message, i: int) -> tuple[str, list[Block]]:
    if msg.role == "user":
        return "user", _blocks(msg.content, i)
    if msg.role == "assistant":
        return "assistant", _assistant_blocks(msg, i)
    if msg.role == "tool":
        if not msg.tool_call_id:
            raise InvalidRequestError("A tool message needs tool_call_id.", param=f"messages[{i}]")
        result: Block = {"type": "tool_result", "tool_use_id": msg.tool_call_id}
        text = "".join(b["text"] for b in _text_blocks(msg.content, i))
        if text:
            result["content"] = text
        return "user", [result]
    raise InvalidRequestError(
        "The legacy 'function' role is not supported; use tools.", param=f"messages[{i}]"
    )


def _blocks(content: str | list[ContentPart] | None, i: int) -> list[Block]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [_part(p, i) for p in content if not isinstance(p, TextPart) or p.text]


def _text_blocks(content: str | list[ContentPart] | None, i: int) -> list[Block]:
    """Blocks of a system or tool message, which carry text only."""
    blocks = _blocks(content, i)
    if any(b["type"] != "text" for b in blocks):
        raise InvalidRequestError("System and tool messages take text only.", param=f"messages[{i}].content")
    return blocks


def _part(part: ContentPart, i: int) -> Block:
    if isinstance(part, TextPart):
        block: Block = {"type": "text", "text": part.text}
        if part.model_extra and "cache_control" in part.model_extra:
            block["cache_control"] = part.model_extra["cache_control"]
        return block
    if isinstance(part, RefusalPart):
        return {"type": "text", "text": part.refusal}
    if isinstance(part, ImagePart):
        return {"type": "image", "source": _image_source(part.image_url.url, i)}
    raise InvalidRequestError(
        f"Content parts of type '{part.type}' cannot be sent to Anthropic models.", param=f"messages[{i}]"
    )


def _image_source(url: str, i: int) -> Block:
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    header, sep, data = url.partition(",")
    if url.startswith("data:") and sep and header.endswith(";base64"):
        return {"type": "base64", "media_type": header[5:].split(";", 1)[0], "data": data}
    raise InvalidRequestError(
        "image_url must be an http(s) URL or a base64 data: URL.", param=f"messages[{i}].content"
    )


def _assistant_blocks(msg: Message, i: int) -> list[Block]:
    blocks = _blocks(msg.content, i)
    for call in msg.tool_calls or ():
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.function.name, "input": tool_arguments(call, i)}
        )
    return blocks


def _tool(tool: Tool) -> Block:
    fn = tool.function
    block: Block = {"name": fn.name, "input_schema": fn.parameters or {"type": "object", "properties": {}}}
    if fn.description:
        block["description"] = fn.description
    return block


def _tool_choice(request: ChatRequest) -> Block | None:
    choice = request.tool_choice
    block: Block | None = None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE:
            raise InvalidRequestError(f"Unknown tool_choice '{choice}'.", param="tool_choice")
        block = {"type": _TOOL_CHOICE[choice]}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise InvalidRequestError("tool_choice needs function.name.", param="tool_choice")
        block = {"type": "tool", "name": name}
    if request.parallel_tool_calls is False:
        block = block or {"type": "auto"}
        if block["type"] != "none":
            block["disable_parallel_tool_use"] = True
    return block


# --- Anthropic response → OpenAI completion ------------------------------------------------------


def from_anthropic_response(message: AnthropicResponse) -> ChatCompletion:
    """The completion for an Anthropic answer; ``model`` is the snapshot Anthropic says it served
    (as OpenAI's own answers name theirs), ``created`` is now."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            arguments = json.dumps(block.input)
            calls.append(ToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=arguments)))
    reason = message.stop_reason
    choice = Choice(
        message=AssistantMessage(content="".join(texts) if texts else None, tool_calls=calls or None),
        finish_reason=FINISH_REASONS.get(reason, "stop") if reason else None,
    )
    return ChatCompletion(
        id=message.id,
        created=int(time.time()),
        model=message.model,
        choices=[choice],
        usage=openai_usage(message.usage),
    )


def openai_usage(usage: AnthropicUsage) -> Usage:
    read = usage.cache_read_input_tokens or 0
    # Anthropic's input_tokens excludes cached tokens; OpenAI's prompt_tokens includes them.
    prompt = usage.input_tokens + read + (usage.cache_creation_input_tokens or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=usage.output_tokens,
        total_tokens=prompt + usage.output_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=read),
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
    )
