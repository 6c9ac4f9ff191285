"""switchyard.last_resort: which rule a call gets, and when a caller has declined it."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.api.chat import ChatRequest
from switchyard.config.routing import LastResortConfig
from switchyard.errors import InvalidRequestError
from switchyard.last_resort import Rule, declined, rule_for
from switchyard.state.personas import PersonaLastResort, PersonaRecord

CONFIG = LastResortConfig.model_validate(
    {"default": {"template": "busy"}, "models": {"m": {"stale_if_error_s": 60}, "quiet": {}}}
)


def req(**fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], **fields}
    )


def test_the_rule_is_the_personas_over_the_models_over_the_default() -> None:
    assert rule_for(CONFIG, "other", None) == Rule(0, "busy")
    assert rule_for(CONFIG, "m", None) == Rule(60, None)
    assert rule_for(CONFIG, "quiet", None) is None  # a model can be left without one
    assert rule_for(LastResortConfig(), "m", None) is None  # off unless configured
    persona = PersonaRecord("t", "p", "s", last_resort=PersonaLastResort(template="persona words"))
    assert rule_for(CONFIG, "m", persona) == Rule(60, "persona words")
    silent = PersonaRecord("t", "p", "s", last_resort=PersonaLastResort(stale_if_error_s=0))
    assert rule_for(CONFIG, "m", silent) is None
    assert CONFIG.max_stale_s == 60


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, {}, False),
        ({"x-switchyard-fallback": " None "}, {}, True),
        ({"x-switchyard-cache": "no-store, x"}, {}, True),
        ({"cache-control": "max-age=0, no-cache"}, {}, True),
        ({"cache-control": "max-age=0"}, {}, False),
        ({}, {"cache": {"no-cache": True}}, True),
        ({}, {"cache": {"ttl": 5}}, False),
    ],
)
def test_a_caller_declines_with_the_header_or_no_cache(
    headers: dict[str, str], body: dict[str, Any], expected: bool
) -> None:
    assert declined(req(**body), headers) is expected


def test_the_header_takes_only_none() -> None:
    with pytest.raises(InvalidRequestError, match="none"):
        declined(req(), {"x-switchyard-fallback": "template"})
