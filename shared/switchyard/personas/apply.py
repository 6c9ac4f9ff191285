"""A persona applied to a request: its system prompt first, its defaults where the caller set
nothing, and its model when the call was addressed to it by name."""

from __future__ import annotations

from typing import Any

from switchyard.api.chat import ChatRequest, Message
from switchyard.personas.select import Chosen, caller_variables, without_persona_metadata
from switchyard.personas.template import render
from switchyard.state.personas import PersonaRecord

# The request fields a persona may give defaults for.
PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "response_format",
        "logit_bias",
        "user",
    }
)


def applied(record: PersonaRecord, chosen: Chosen, request: ChatRequest, *, today: str) -> ChatRequest:
    """``request`` as the persona sends it. Raises InvalidRequestError for a prompt variable the
    caller had to send and did not."""
    values = {"today": today, **record.variables, **caller_variables(request)}
    prompt = Message(role="system", content=render(record.system_prompt, values, persona=record.name))
    messages = [
        m for m in request.messages if not (record.replace_system and m.role in ("system", "developer"))
    ]
    update: dict[str, Any] = {
        "messages": [prompt, *messages],
        "metadata": without_persona_metadata(request.metadata),
    }
    for name, value in record.parameters.items():
        if getattr(request, name, None) is None:
            update[name] = value
    if chosen.by_model and record.model:
        update["model"] = record.model
    return request.model_copy(update=update)
