"""A policy's input checks: shape rules, the blocklist on the caller's text, PII blocked,
redacted into numbered placeholders (the same value, the same placeholder) or logged; the
caller's request is never changed in place; the config refuses what cannot work."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.config.guardrails import GuardrailPolicy
from switchyard.config.routing import RoutingConfig
from switchyard.errors import ContentBlockedError
from switchyard.guardrails.policy import Policy
from switchyard.guardrails.redact import Redactions
from switchyard.guardrails.tally import Tally, header_value


def policy(**config: Any) -> Policy:
    return Policy.compile("strict", GuardrailPolicy.model_validate(config))


def request(*messages: dict[str, Any], **extra: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": list(messages), **extra})


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def blocked_rule(p: Policy, req: ChatRequest) -> str:
    with pytest.raises(ContentBlockedError) as blocked:
        p.check_input(req, Redactions(), Tally())
    assert blocked.value.guardrail == "strict" and blocked.value.status == 400
    assert blocked.value.code == "content_blocked"
    return blocked.value.rule


@pytest.mark.parametrize(
    ("shape", "req", "rule"),
    [
        ({"max_messages": 1}, request(user("a"), user("b")), "shape.max_messages"),
        (
            {"forbidden_roles": ["system"]},
            request({"role": "system", "content": "x"}, user("a")),
            "shape.forbidden_role",
        ),
        ({"max_prompt_tokens": 2}, request(user("twelve chars")), "shape.max_prompt_tokens"),
        (
            {"forbidden_tools": ["shell"]},
            request(user("a"), tools=[{"type": "function", "function": {"name": "shell"}}]),
            "shape.forbidden_tool",
        ),
    ],
)
def test_shape_rules_block(shape: dict[str, Any], req: ChatRequest, rule: str) -> None:
    assert blocked_rule(policy(shape=shape), req) == rule


def test_shape_rules_pass_what_fits() -> None:
    p = policy(shape={"max_messages": 2, "max_prompt_tokens": 10, "forbidden_roles": ["system"]})
    req = request(user("short"))
    assert p.check_input(req, Redactions(), Tally()) is req


def test_the_blocklist_sees_the_caller_s_text_including_tool_arguments() -> None:
    p = policy(blocklist={"words": ["project-x"]})
    assert blocked_rule(p, request(user([{"type": "text", "text": "about PROJECT-X"}]))) == "blocklist.word"
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"q": "project-x"}'}}
    assert (
        blocked_rule(p, request(user("hi"), {"role": "assistant", "tool_calls": [call]})) == "blocklist.word"
    )


def test_an_output_only_blocklist_lets_the_request_through() -> None:
    p = policy(blocklist={"words": ["secret"], "apply_to": ["output"]})
    req = request(user("a secret"))
    assert p.check_input(req, Redactions(), Tally()) is req
    assert [r.policy for r in p.output_rules()] == ["strict"]


def test_pii_is_redacted_into_numbered_placeholders_and_the_request_is_copied() -> None:
    p = policy(pii={"entities": {"email": "redact", "phone": "redact", "ip_address": "log"}, "restore": True})
    original = request(
        {"role": "system", "content": "Reply to a@x.io"},
        user([{"type": "text", "text": "I am b@y.io, not a@x.io; call +1 415 555 0132 from 10.0.0.7"}]),
    )
    tally, redactions = Tally(), Redactions()
    redacted = p.check_input(original, redactions, tally)

    assert redacted.messages[0].content == "Reply to [EMAIL_1]"
    part = redacted.messages[1].content[0]  # type: ignore[index]
    assert part.text == "I am [EMAIL_2], not [EMAIL_1]; call [PHONE_1] from 10.0.0.7"  # type: ignore[union-attr]
    assert original.messages[0].content == "Reply to a@x.io"  # untouched
    assert redactions.restore("to [EMAIL_2] and [EMAIL_1], [PHONE_1] [EMAIL_9]") == (
        "to b@y.io and a@x.io, +1 415 555 0132 [EMAIL_9]"
    )
    assert header_value(None, tally) == "logged=1, redacted=4"


def test_pii_that_blocks_wins_over_pii_that_redacts() -> None:
    p = policy(pii={"entities": {"email": "redact", "credit_card": "block"}})
    assert blocked_rule(p, request(user("a@x.io"), user("pay 4111 1111 1111 1111"))) == "pii.credit_card"


def test_values_are_not_restored_unless_the_policy_says_so() -> None:
    redactions = Redactions()
    policy(pii={"entities": {"email": "redact"}}).check_input(request(user("a@x.io")), redactions, Tally())
    assert not redactions.restores and redactions.restore("[EMAIL_1]") == "[EMAIL_1]"


def _routing(**guardrails: Any) -> dict[str, Any]:
    return {
        "providers": {"p": {"kind": "mock"}, "c": {"kind": "anthropic"}},
        "models": {
            "m": {"deployments": [{"provider": "p", "model": "x"}]},
            "claude": {"deployments": [{"provider": "c", "model": "y"}]},
        },
        "guardrails": guardrails,
    }


@pytest.mark.parametrize(
    ("guardrails", "problem"),
    [
        ({"default": ["nope"]}, "unknown guardrail policy 'nope'"),
        (
            {"policies": {"p": {"blocklist": {"patterns": ["("]}}}},
            r"patterns\[0\] is not a regular expression",
        ),
        ({"policies": {"p": {"moderation": {"model": "missing"}}}}, "unknown moderation model 'missing'"),
        ({"policies": {"p": {"moderation": {"model": "claude"}}}}, "cannot moderate"),
        ({"policies": {"bad name": {}}}, "guardrail policy name"),
        ({"policies": {"p": {"pii": {"entities": {"passport": "redact"}}}}}, "passport"),
    ],
)
def test_the_config_refuses_what_cannot_work(guardrails: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        RoutingConfig.model_validate(_routing(**guardrails))


def test_a_model_names_its_policies() -> None:
    config = _routing(policies={"p": {}})
    config["models"]["m"]["guardrails"] = ["p"]
    assert RoutingConfig.model_validate(config).models["m"].guardrails == ["p"]
    config["models"]["m"]["guardrails"] = ["q"]
    with pytest.raises(ValidationError, match="model 'm': unknown guardrail policy 'q'"):
        RoutingConfig.model_validate(config)
