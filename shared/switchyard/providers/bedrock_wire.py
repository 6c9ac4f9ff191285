"""Pure translation for the Amazon Bedrock provider: OpenAI Chat Completions ↔ Bedrock Converse.

:func:`to_converse_request` (ChatRequest → Converse body) and :func:`from_converse_response`
(Converse answer → ChatCompletion). Converse is one shape for every Bedrock model: ``system``
blocks, alternating ``user``/``assistant`` ``messages`` of content blocks (``text``, ``image``
with base64 ``bytes``, ``toolUse``, ``toolResult``, ``cachePoint``), ``inferenceConfig`` and
``toolConfig``. A text part carrying ``cache_control`` (the Anthropic prompt-caching marker the
gateway already passes on) becomes a ``cachePoint`` after it.

As for Anthropic, OpenAI-only sampling options (penalties, logit_bias, seed, ...) have no
Converse field and are dropped; ``n > 1`` and image URLs (Converse takes image bytes, and the
gateway fetches nothing on a caller's behalf) are refused before any call.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

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
    ToolCall,
    Usage,
)
from switchyard.errors import InvalidRequestError
from switchyard.providers.turns import Block, alternating_turns, tool_arguments

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_CACHE_POINT: Block = {"cachePoint": {"type": "default"}}


# --- OpenAI request → Converse body ---------------------------------------------------------------


def to_converse_request(request: ChatRequest) -> dict[str, Any]:
    """The Converse body for ``request`` (the model goes in the URL); raises InvalidRequestError
    for what Converse cannot express."""
    if request.n is not None and request.n > 1:
        raise InvalidRequestError("Bedrock models return one choice only: n must be 1.", param="n")
    system, messages = _turns(request.messages)
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference: dict[str, Any] = {}
    if request.output_limit:
        inference["maxTokens"] = request.output_limit
    if request.temperature is not None:
        inference["temperature"] = min(request.temperature, 1.0)  # OpenAI allows up to 2
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop_list:
        inference["stopSequences"] = request.stop_list
    if inference:
        body["inferenceConfig"] = inference
    tools = _tool_config(request, messages)
    if tools:
        body["toolConfig"] = tools
    return body


def _turns(messages: list[Message]) -> tuple[list[Block], list[dict[str, Any]]]:
    """System blocks, and the alternating user/assistant turns Converse requires."""
    return alternating_turns(messages, _text_only, _turn)


def _turn(msg: Message, i: int) -> tuple[str, list[Block]]:
    if msg.role == "user":
        return "user", _blocks(msg.content, i)
    if msg.role == "assistant":
        blocks = _blocks(msg.content, i)
        for call in msg.tool_calls or ():
            use = {"toolUseId": call.id, "name": call.function.name, "input": tool_arguments(call, i)}
            blocks.append({"toolUse": use})
        return "assistant", blocks
    if msg.role == "tool":
        if not msg.tool_call_id:
            raise InvalidRequestError("A tool message needs tool_call_id.", param=f"messages[{i}]")
        text = "".join(b["text"] for b in _text_only(msg.content, i) if "text" in b)
        # Converse refuses a blank text block: an empty result is an empty JSON object.
        content: list[Block] = [{"text": text}] if text else [{"json": {}}]
        return "user", [{"toolResult": {"toolUseId": msg.tool_call_id, "content": content}}]
    raise InvalidRequestError(
        "The legacy 'function' role is not supported; use tools.", param=f"messages[{i}]"
    )


def _blocks(content: str | list[ContentPart] | None, i: int) -> list[Block]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[Block] = []
    for part in content:
        if isinstance(part, TextPart) and not part.text:
            continue
        blocks.append(_part(part, i))
        if part.model_extra and "cache_control" in part.model_extra:
            blocks.append(_CACHE_POINT)
    return blocks


def _text_only(content: str | list[ContentPart] | None, i: int) -> list[Block]:
    """Blocks of a system or tool message, which carry text (and cache points) only."""
    blocks = _blocks(content, i)
    if any("text" not in b and "cachePoint" not in b for b in blocks):
        raise InvalidRequestError("System and tool messages take text only.", param=f"messages[{i}].content")
    return blocks


def _part(part: ContentPart, i: int) -> Block:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, RefusalPart):
        return {"text": part.refusal}
    if isinstance(part, ImagePart):
        return {"image": _image(part.image_url.url, i)}
    raise InvalidRequestError(
        f"Content parts of type '{part.type}' cannot be sent to Bedrock models.", param=f"messages[{i}]"
    )


def _image(url: str, i: int) -> Block:
    header, sep, data = url.partition(",")
    media_type = header[5:].split(";", 1)[0].lower() if header.startswith("data:") else ""
    if not sep or not header.endswith(";base64") or media_type not in _IMAGE_FORMATS:
        raise InvalidRequestError(
            "Bedrock models take images as base64 data: URLs (png, jpeg, gif or webp).",
            param=f"messages[{i}].content",
        )
    return {"format": _IMAGE_FORMATS[media_type], "source": {"bytes": data}}


def _tool_config(request: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``toolConfig``: the tools, and the choice. Converse has no "none": the tools are left out
    then, unless the conversation already holds tool blocks (which need a toolConfig)."""
    if not request.tools:
        return None
    choice = request.tool_choice
    has_tool_blocks = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if choice == "none" and not has_tool_blocks:
        return None
    specs = []
    for tool in request.tools:
        fn = tool.function
        spec: dict[str, Any] = {
            "name": fn.name,
            "inputSchema": {"json": fn.parameters or {"type": "object", "properties": {}}},
        }
        if fn.description:
            spec["description"] = fn.description
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise InvalidRequestError("tool_choice needs function.name.", param="tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    elif choice is not None and choice != "none":
        raise InvalidRequestError(f"Unknown tool_choice '{choice}'.", param="tool_choice")
    return config


# --- Converse answer → OpenAI completion ----------------------------------------------------------


def from_converse_response(data: Any, model: str, request_id: str | None) -> ChatCompletion:
    """The completion for a Converse answer (``data``: its parsed JSON). ``model`` is the model id
    called (Converse does not name it); the id is Bedrock's request id. Raises ValueError (or
    KeyError, TypeError) for a body that is not a Converse answer."""
    message = data["output"]["message"]
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message["content"]:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            function = FunctionCall(name=use["name"], arguments=json.dumps(use.get("input") or {}))
            calls.append(ToolCall(id=use["toolUseId"], function=function))
        # reasoningContent, citations, guard content: no OpenAI counterpart, dropped.
    reason = data.get("stopReason")
    choice = Choice(
        message=AssistantMessage(content="".join(texts) if texts else None, tool_calls=calls or None),
        finish_reason=FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else None,
    )
    return ChatCompletion(
        id=f"chatcmpl-{request_id or uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[choice],
        usage=openai_usage(data.get("usage")),
    )


def openai_usage(usage: Any) -> Usage | None:
    """Converse usage in OpenAI's terms: ``inputTokens`` excludes cache reads and writes, which
    ``prompt_tokens`` includes."""
    if not isinstance(usage, dict):
        return None
    read = int(usage.get("cacheReadInputTokens") or 0)
    write = int(usage.get("cacheWriteInputTokens") or 0)
    prompt = int(usage.get("inputTokens") or 0) + read + write
    completion = int(usage.get("outputTokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=read),
        cache_creation_input_tokens=write or None,
    )
