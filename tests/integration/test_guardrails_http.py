"""Guardrails over HTTP against the fake upstream, in both dialects, buffered and streamed:
what the provider saw (placeholders, never the values), what the caller got (the values back,
or a 400 content_blocked naming policy and rule), streams cut with an error event before a
blocked term, moderation routed with failover and failing open or closed, metrics per policy,
and logs that never hold what matched."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from streaming_checks import content_of, openai_stream, parse_sse

from conftest import GatewayFactory
from fakes import FakeUpstream, Reply
from switchyard.compose.gateway import Gateway

EMAIL, PHONE, CARD = "jane.doe@example.com", "+1 415 555 0132", "4111 1111 1111 1111"
PROMPT = f"Email {EMAIL} or call {PHONE} about the order."
ECHO = "I will write to [EMAIL_1] and call [PHONE_1]."
RESTORED = f"I will write to {EMAIL} and call {PHONE}."

POLICIES: dict[str, Any] = {
    "pii": {
        "pii": {"entities": {"email": "redact", "phone": "redact", "credit_card": "block"}, "restore": True},
    },
    "words": {"blocklist": {"words": ["bluebird"], "phrases": ["launch plan"]}},
    "no-cards-out": {"pii": {"entities": {"credit_card": "redact"}, "apply_to": ["output"]}},
    "moderated": {"moderation": {"model": "moderation", "timeout_s": 2}},
    "moderated-open": {"moderation": {"model": "moderation", "timeout_s": 2, "on_error": "open"}},
}


def config(fake: FakeUpstream, *, default: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    routing = fake.routing_config(
        providers={"a": "openai", "c": "anthropic", "mod1": "openai", "mod2": "openai_compatible"},
        models={
            "m": {"deployments": [{"provider": "a", "model": "up-a"}]},
            "claude": {"deployments": [{"provider": "c", "model": "up-c"}]},
            "moderation": {
                "deployments": [
                    {"provider": "mod1", "model": "omni-1"},
                    {"provider": "mod2", "model": "omni-2"},
                ]
            },
        },
    )
    routing["guardrails"] = {"policies": POLICIES, "default": default or []}
    routing.update(extra)
    return routing


def body(content: str = PROMPT, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": content}], **extra}


def anthropic_text(response: httpx.Response) -> str:
    return "".join(b.get("text", "") for b in response.json()["content"])


def anthropic_stream_text(text: str) -> tuple[str, dict[str, Any] | None]:
    events, _ = parse_sse(text)
    deltas = [e.json()["delta"].get("text", "") for e in events if e.event == "content_block_delta"]
    errors = [e.json()["error"] for e in events if e.event == "error"]
    return "".join(deltas), errors[0] if errors else None


def upstream_text(fake: FakeUpstream, name: str) -> str:
    return json.dumps([c.body for c in fake.calls(name)])


@pytest.mark.parametrize("model", ["m", "claude"])
async def test_pii_is_redacted_for_the_provider_and_restored_for_the_caller(
    gateway: GatewayFactory, fake_upstream: FakeUpstream, model: str
) -> None:
    provider = "a" if model == "m" else "c"
    fake_upstream.set_default(provider, Reply.ok(ECHO))
    client = await gateway(config(fake_upstream, default=["pii"]))

    chat = await client.post("/v1/chat/completions", json=body(model=model))
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"] == RESTORED
    assert chat.headers["x-switchyard-guardrails"] == "redacted=2"
    assert chat.headers["x-switchyard-guardrails-policies"] == "pii"

    messages = await client.post("/v1/messages", json=body(model=model))
    assert anthropic_text(messages) == RESTORED

    streamed = await client.post("/v1/chat/completions", json=body(model=model, stream=True))
    chunks, done, error = openai_stream(streamed.text)
    assert content_of(chunks) == RESTORED and done and error is None
    assert streamed.headers["x-switchyard-guardrails"] == "redacted=2"

    events = await client.post("/v1/messages", json=body(model=model, stream=True))
    assert anthropic_stream_text(events.text) == (RESTORED, None)

    sent = upstream_text(fake_upstream, provider)
    assert fake_upstream.count(provider) == 4
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent
    assert EMAIL not in sent and "555 0132" not in sent


async def test_a_blocked_request_is_a_400_in_the_route_s_dialect_and_no_provider_is_called(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    client = await gateway(config(fake_upstream, default=["pii", "words"]))
    chat = await client.post("/v1/chat/completions", json=body(f"charge {CARD} please"))
    assert chat.status_code == 400
    error = chat.json()["error"]
    assert error["code"] == "content_blocked" and error["type"] == "invalid_request_error"
    assert "'pii'" in error["message"] and "pii.credit_card" in error["message"]
    assert "4111" not in chat.text
    assert chat.headers["x-switchyard-guardrails"] == "blocked=pii/pii.credit_card"

    messages = await client.post("/v1/messages", json=body("share the Launch\n  Plan", stream=True))
    assert messages.status_code == 400
    assert messages.json()["type"] == "error"
    assert messages.json()["error"]["type"] == "invalid_request_error"
    assert "blocklist.phrase" in messages.json()["error"]["message"]
    assert fake_upstream.count() == 0


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/messages"])
async def test_a_stream_is_ended_with_an_error_event_before_a_blocked_word_reaches_the_client(
    gateway: GatewayFactory, fake_upstream: FakeUpstream, route: str
) -> None:
    fake_upstream.set_default("a", Reply.ok("The quiet project name is Bluebird and it ships soon."))
    client = await gateway(config(fake_upstream, default=["words"]))

    streamed = await client.post(route, json=body("what is the project?", stream=True))
    assert streamed.status_code == 200
    assert "bluebird" not in streamed.text.lower()
    if route == "/v1/messages":
        text, error = anthropic_stream_text(streamed.text)
        assert error is not None and error["type"] == "invalid_request_error"
    else:
        chunks, done, oai_error = openai_stream(streamed.text)
        text, error = content_of(chunks), oai_error
        assert error is not None and error["code"] == "content_blocked" and not done
    assert text.startswith("The quiet")  # what came before the window went out
    assert "blocklist.word" in error["message"]

    buffered = await client.post(route, json=body("what is the project?"))
    assert buffered.status_code == 400 and "bluebird" not in buffered.text.lower()


async def test_output_pii_is_redacted_in_buffered_and_streamed_answers(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_default("a", Reply.ok(f"Use card {CARD} for it."))
    client = await gateway(config(fake_upstream, default=["no-cards-out"]))
    chat = await client.post("/v1/chat/completions", json=body("which card?"))
    assert chat.json()["choices"][0]["message"]["content"] == "Use card [CREDIT_CARD_REDACTED] for it."
    assert chat.headers["x-switchyard-guardrails"] == "redacted=1"
    streamed = await client.post("/v1/chat/completions", json=body("which card?", stream=True))
    assert content_of(openai_stream(streamed.text)[0]) == "Use card [CREDIT_CARD_REDACTED] for it."
    assert "4111" not in streamed.text


async def test_moderation_fails_over_and_a_flagged_request_is_blocked(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script("mod1", Reply.overloaded(503))
    fake_upstream.script("mod2", Reply.moderation("violence"))
    client = await gateway(config(fake_upstream, default=["pii", "moderated"]))

    blocked = await client.post("/v1/chat/completions", json=body())
    assert blocked.status_code == 400
    assert "moderation.violence" in blocked.json()["error"]["message"]
    assert [c.path for c in fake_upstream.calls("mod1")] == ["/v1/moderations"]
    [judged] = fake_upstream.calls("mod2")
    assert judged.body["model"] == "omni-2"
    assert "[EMAIL_1]" in judged.body["input"][0] and EMAIL not in json.dumps(judged.body)  # redacted first
    assert fake_upstream.count("a") == 0

    passed = await client.post("/v1/chat/completions", json=body())  # mod1 answers now: clean
    assert passed.status_code == 200 and fake_upstream.count("a") == 1


async def test_moderation_down_fails_closed_or_open_as_the_policy_says(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    for name in ("mod1", "mod2"):
        fake_upstream.set_default(name, Reply.server_error(500))
    closed = await gateway(config(fake_upstream, default=["moderated"]))
    refused = await closed.post("/v1/chat/completions", json=body("hello"))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "moderation_unavailable"
    assert "retry-after" in refused.headers and fake_upstream.count("a") == 0

    opened = await gateway(config(fake_upstream, default=["moderated-open"]))
    answered = await opened.post("/v1/chat/completions", json=body("hello"))
    assert answered.status_code == 200 and fake_upstream.count("a") == 1
    assert answered.headers["x-switchyard-guardrails"] == "moderation_skipped=1"


async def test_moderation_s_own_timeout_bounds_a_stalled_endpoint(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    for name in ("mod1", "mod2"):
        fake_upstream.set_default(name, Reply.stall(10))
    policies = {
        **POLICIES,
        "quick": {"moderation": {"model": "moderation", "timeout_s": 0.3, "on_error": "open"}},
    }
    routing = config(fake_upstream, default=["quick"])
    routing["guardrails"]["policies"] = policies
    client = await gateway(routing)
    answered = await client.post("/v1/chat/completions", json=body("hello"))
    assert (
        answered.status_code == 200 and answered.headers["x-switchyard-guardrails"] == "moderation_skipped=1"
    )


async def test_a_cached_answer_is_restored_with_each_caller_s_own_values(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_default("a", Reply.ok("Noted: [EMAIL_1]."))
    client = await gateway(config(fake_upstream, default=["pii"]))
    first = await client.post("/v1/chat/completions", json=body("I am a@x.io", temperature=0))
    second = await client.post("/v1/chat/completions", json=body("I am b@y.io", temperature=0))
    assert first.json()["choices"][0]["message"]["content"] == "Noted: a@x.io."
    assert second.headers["x-switchyard-cache"] == "hit"
    assert second.json()["choices"][0]["message"]["content"] == "Noted: b@y.io."
    assert fake_upstream.count("a") == 1


async def test_policies_attach_to_models_tenants_keys_and_earlier_stages(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    routing = config(
        fake_upstream,
        pipeline={
            "stages": [{"use": "stagekit:Attach", "options": {"guardrails": ["pii"]}, "after": "access"}]
        },
    )
    routing["models"]["claude"]["guardrails"] = ["no-cards-out"]
    client = await gateway(routing)
    admin = client

    # A stage before the guardrails (a persona) attached "pii"; the model adds its own.
    fake_upstream.set_default("c", Reply.ok(f"card {CARD}"))
    chat = await client.post("/v1/chat/completions", json=body("hi", model="claude"))
    assert chat.headers["x-switchyard-guardrails-policies"] == "no-cards-out, pii"
    assert "[CREDIT_CARD_REDACTED]" in chat.text

    # The tenant's and the key's, through the admin API (unknown names refused).
    unknown = await admin.put("/admin/tenants/acme", json={"guardrails": ["nope"]})
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]
    assert (await admin.put("/admin/tenants/acme", json={"guardrails": ["words"]})).status_code == 200
    made = await admin.post("/admin/keys", json={"tenant": "acme", "guardrails": ["moderated-open"]})
    assert made.status_code == 201 and made.json()["guardrails"] == ["moderated-open"]
    as_key = {"Authorization": f"Bearer {made.json()['key']}"}
    answered = await client.post("/v1/chat/completions", json=body("hello"), headers=as_key)
    assert answered.headers["x-switchyard-guardrails-policies"] == "words, moderated-open, pii"
    refused = await client.post("/v1/chat/completions", json=body("about bluebird"), headers=as_key)
    assert refused.status_code == 400 and "'words'" in refused.json()["error"]["message"]

    # A tenant PUT that leaves guardrails out keeps them.
    kept = await admin.put("/admin/tenants/acme", json={"name": "Acme"})
    assert kept.json()["guardrails"] == ["words"]
    assert (
        await admin.patch(f"/admin/keys/{made.json()['key_id']}", json={"guardrails": ["x"]})
    ).status_code == 400


async def test_metrics_per_policy_and_logs_without_the_matched_text(
    gateway: GatewayFactory,
    fake_upstream: FakeUpstream,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    logging_policy = {"pii": {"entities": {"email": "log", "credit_card": "block"}}}
    routing = config(fake_upstream, default=["audit", "words"])
    routing["guardrails"]["policies"] = {**POLICIES, "audit": logging_policy}
    client = await gateway(routing)
    caplog.set_level(logging.DEBUG)
    await client.post("/v1/chat/completions", json=body(f"mail {EMAIL}"))
    await client.post("/v1/chat/completions", json=body(f"pay {CARD}"))
    await client.post("/v1/chat/completions", json=body("bluebird"))

    gw: Gateway = client._transport.app.app.state.gateway  # type: ignore[attr-defined]
    totals = gw.metrics.guardrails.totals
    assert totals[("audit", "GuardrailChecks")] == 3
    assert totals[("audit", "GuardrailFindingsLogged")] == 1
    assert totals[("audit", "GuardrailBlocks")] == 1
    assert totals[("words", "GuardrailBlocks")] == 1
    capfd.readouterr()
    gw.metrics.guardrails.flush()
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    audit = next(doc for doc in emf if doc.get("Policy") == "audit")
    assert audit["GuardrailFindingsLogged"] == [1.0] and audit["GuardrailBlocks"] == [1.0]

    logged = "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "audit/pii.email/logged" in logged and "audit/pii.credit_card/blocked" in logged
    for secret in (EMAIL, "jane.doe", "4111", "bluebird"):
        assert secret not in logged.lower()


async def test_a_buffered_answer_blocked_on_its_way_out_is_still_charged(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    """The provider billed it: the caller gets the 400, the usage shows one request, one error,
    and the answer's tokens (what a budget and the key's token limit were charged too)."""
    fake_upstream.set_default("a", Reply.ok("The quiet project name is Bluebird.", output_tokens=9))
    client = await gateway(config(fake_upstream, default=["words"]))
    blocked = await client.post("/v1/chat/completions", json=body("what is the project?"))
    assert blocked.status_code == 400 and blocked.json()["error"]["code"] == "content_blocked"
    assert fake_upstream.count("a") == 1
    gw: Gateway = client._transport.app.app.state.gateway  # type: ignore[attr-defined]
    await gw.usage.drain()
    total = (await client.get("/v1/usage")).json()["total"]
    assert (total["requests"], total["errors"], total["completion_tokens"]) == (1, 1, 9)
