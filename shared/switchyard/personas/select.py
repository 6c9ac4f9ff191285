"""Which persona a call asks for: the header ``x-switchyard-persona``, ``metadata.persona`` (the
way for jobs and for SDKs that cannot set headers), or a model named ``persona/<name>`` (a
published persona, callable by an unmodified SDK).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.api.chat import ChatRequest
from switchyard.errors import InvalidRequestError

HEADER = "x-switchyard-persona"
METADATA = "persona"
VARIABLE_PREFIX = "persona."
MODEL_PREFIX = "persona/"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class Chosen:
    name: str
    by_model: bool  # addressed as the model "persona/<name>": the persona's model answers


def chosen_persona(request: ChatRequest, headers: Mapping[str, str]) -> Chosen | None:
    """The persona the call names, if any. Raises InvalidRequestError for a malformed name or
    two different ones."""
    named: list[tuple[str, str]] = []
    header = headers.get(HEADER)
    if header is not None:
        named.append((HEADER, header.strip()))
    metadata = request.metadata or {}
    if METADATA in metadata:
        named.append(("metadata.persona", metadata[METADATA].strip()))
    by_model = request.model.startswith(MODEL_PREFIX)
    if by_model:
        named.append(("model", request.model.removeprefix(MODEL_PREFIX)))
    if not named:
        return None
    for where, name in named:
        if not _NAME.match(name):
            raise InvalidRequestError(
                f"`{where}` must name a persona (letters, digits, '_', '.', '-'; up to 64).",
                param=where,
                code="invalid_persona",
            )
    if len({name for _, name in named}) > 1:
        raise InvalidRequestError(
            "The request names two different personas: " + ", ".join(f"{w}={n!r}" for w, n in named) + ".",
            param=named[1][0],
            code="invalid_persona",
        )
    return Chosen(named[0][1], by_model)


def caller_variables(request: ChatRequest) -> dict[str, str]:
    """The prompt variables the caller sent (``metadata`` entries ``persona.<name>``)."""
    metadata = request.metadata or {}
    return {k.removeprefix(VARIABLE_PREFIX): v for k, v in metadata.items() if k.startswith(VARIABLE_PREFIX)}


def without_persona_metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    """``metadata`` without the persona's entries: they are for the gateway, not the provider."""
    if not metadata:
        return None
    kept = {k: v for k, v in metadata.items() if k != METADATA and not k.startswith(VARIABLE_PREFIX)}
    return kept or None
