"""What the Anthropic and Bedrock Converse translations share: both APIs take the system prompt
apart from the conversation, want strictly alternating ``user``/``assistant`` turns of content
blocks, and take a tool call's arguments as a JSON object where OpenAI sends a string."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from switchyard.api.chat import ContentPart, Message, ToolCall
from switchyard.errors import InvalidRequestError

Block = dict[str, Any]

SYSTEM_ROLES = frozenset({"system", "developer"})


def alternating_turns(
    messages: list[Message],
    system_blocks: Callable[[str | list[ContentPart] | None, int], list[Block]],
    turn: Callable[[Message, int], tuple[str, list[Block]]],
) -> tuple[list[Block], list[dict[str, Any]]]:
    """The system blocks (``system_blocks`` of each system or developer message), and the other
    messages as turns (``turn`` gives a message's role and blocks), consecutive turns of one role
    merged. A message without blocks is left out: both APIs reject empty content, and an empty
    turn carries nothing anyway."""
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg.role in SYSTEM_ROLES:
            system.extend(system_blocks(msg.content, i))
            continue
        role, blocks = turn(msg, i)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def tool_arguments(call: ToolCall, i: int) -> dict[str, Any]:
    """A tool call's arguments as the JSON object they encode; raises InvalidRequestError (naming
    message ``i``) for anything else."""
    raw = call.function.arguments
    if not raw.strip():
        return {}  # some clients send "" for a tool without parameters
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"Tool call '{call.id}' has arguments that are not a JSON object.",
            param=f"messages[{i}].tool_calls",
        )
    return value
