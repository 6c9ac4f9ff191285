"""switchyard.personas: which persona a call names, the prompt's variables, the request as the
persona sends it, and the checks a stored persona passes."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.api.chat import ChatRequest
from switchyard.config.routing import MemoryConfig
from switchyard.errors import InvalidRequestError
from switchyard.personas import Chosen, applied, chosen_persona, problems
from switchyard.personas.template import placeholders, render
from switchyard.state.personas import PersonaMemory, PersonaRecord


def req(**fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def test_a_persona_is_named_by_header_metadata_or_model() -> None:
    assert chosen_persona(req(), {}) is None
    assert chosen_persona(req(), {"x-switchyard-persona": " support "}) == Chosen("support", False)
    assert chosen_persona(req(metadata={"persona": "support"}), {}) == Chosen("support", False)
    assert chosen_persona(req(model="persona/support"), {}) == Chosen("support", True)
    both = req(model="persona/support", metadata={"persona": "support"})  # agreeing names
    assert chosen_persona(both, {}) == Chosen("support", True)
    with pytest.raises(InvalidRequestError, match="two different personas"):
        chosen_persona(req(model="persona/a"), {"x-switchyard-persona": "b"})
    with pytest.raises(InvalidRequestError):
        chosen_persona(req(model="persona/"), {})


def test_variables_are_rendered_once_and_missing_ones_named() -> None:
    template = "Hi {{name}}, {{ name }}! Today: {{today}}. {{ not closed"
    assert placeholders(template) == ["name", "today"]
    assert render(template, {"name": "{{today}}", "today": "D"}, persona="p") == (
        "Hi {{today}}, {{today}}! Today: D. {{ not closed"
    )
    with pytest.raises(InvalidRequestError) as caught:
        render(template, {"today": "D"}, persona="p")
    assert caught.value.param == "metadata.persona.name"


def test_the_request_as_the_persona_sends_it() -> None:
    record = PersonaRecord(
        "t", "p", "You serve {{ who }}.", variables={"who": "everyone"}, model="small",
        parameters={"temperature": 0.1, "max_tokens": 9}, replace_system=True,
    )  # fmt: skip
    request = req(
        model="persona/p",
        messages=[{"role": "developer", "content": "x"}, {"role": "user", "content": "hi"}],
        max_tokens=50,
        metadata={"persona": "p", "persona.who": "Ann", "keep": "1"},
    )
    sent = applied(record, Chosen("p", True), request, today="2027-01-15")
    assert sent.model == "small" and sent.temperature == 0.1 and sent.max_tokens == 50
    assert [(m.role, m.content) for m in sent.messages] == [("system", "You serve Ann."), ("user", "hi")]
    assert sent.metadata == {"keep": "1"}
    by_header = applied(record, Chosen("p", False), req(model="big"), today="2027-01-15")
    assert by_header.model == "big"


def test_a_persona_is_checked_before_it_is_stored() -> None:
    def known(model: str) -> bool:
        return model in ("small", "cheap")

    fine = PersonaRecord("t", "p", "s", model="small", parameters={"stop": ["x"], "seed": 3}, published=True)
    assert problems(fine, known, MemoryConfig()) == []
    summarizing = PersonaRecord("t", "p", "s", memory=PersonaMemory(overflow="summarize"))
    assert problems(summarizing, known, MemoryConfig()) != []
    assert problems(summarizing, known, MemoryConfig(overflow="summarize", summary_model="cheap")) == []
    wrong = PersonaRecord("t", "p", "s", model="big", parameters={"top_p": 3}, published=True)
    found = problems(wrong, known, MemoryConfig())
    assert any("top_p" in p for p in found) and any("unknown model 'big'" in p for p in found)
