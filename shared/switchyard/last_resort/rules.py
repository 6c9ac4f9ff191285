"""The last resort's rules: which one a call gets (its persona's, else its model's, else the
default), whether the caller declined it, and the template answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from time import time

from switchyard.api.chat import AssistantMessage, ChatCompletion, ChatRequest, Choice, Usage
from switchyard.cache.policy import HEADER as CACHE_HEADER
from switchyard.cache.policy import caller_directives
from switchyard.config.routing import LastResortConfig
from switchyard.errors import InvalidRequestError
from switchyard.state.personas import PersonaRecord

HEADER = "x-switchyard-fallback"
_DECLINE = "none"


@dataclass(frozen=True, slots=True)
class Rule:
    stale_if_error_s: int  # 0: no stale answers
    template: str | None


def rule_for(config: LastResortConfig, model: str, persona: PersonaRecord | None) -> Rule | None:
    """The call's rule; None when it has no last resort (the default)."""
    base = config.rule_for(model)
    stale, template = base.stale_if_error_s, base.template
    if persona is not None:
        mine = persona.last_resort
        stale = mine.stale_if_error_s if mine.stale_if_error_s is not None else stale
        template = mine.template if mine.template is not None else template
    return Rule(stale, template) if stale > 0 or template else None


def declined(request: ChatRequest, headers: Mapping[str, str]) -> bool:
    """Whether the caller wants the honest error: ``x-switchyard-fallback: none``, or no cached
    answers (``no-cache``/``no-store`` in ``x-switchyard-cache``, ``Cache-Control`` or the body's
    ``cache``). Raises InvalidRequestError for another ``x-switchyard-fallback`` value."""
    value = headers.get(HEADER)
    if value is not None:
        if value.strip().lower() != _DECLINE:
            raise InvalidRequestError(
                f"`{HEADER}` takes one value, `none` (answer the error, never a last resort).",
                param=HEADER,
                code="invalid_fallback_header",
            )
        return True
    no_cache, no_store = caller_directives(request, headers, (CACHE_HEADER, "cache-control"))
    return no_cache or no_store


def template_answer(text: str, model: str, request_id: str) -> ChatCompletion:
    return ChatCompletion(
        id=f"fallback-{request_id}",
        created=int(time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=text), finish_reason="stop")],
        usage=Usage(),
    )
