"""The last resort as callers see it, on memory state and on DynamoDB (moto): when every candidate
fails, a stale cached answer (up to its configured age) or the template answers instead of the
503, buffered and streamed in both dialects, marked, counted and free; a caller that declines it,
or an error that is the caller's own, gets the honest error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, dep

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.metrics import LAST_RESORT_STALE_CACHE, LAST_RESORT_TEMPLATE

TEMPLATE = "We are very busy right now; please try again in a minute."
BODY = {"model": "m", "max_tokens": 50, "messages": MESSAGES}


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream, **last_resort: Any) -> dict[str, Any]:
    routing = fake.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={
            "m": {"deployments": [dep("a", "up-a"), dep("b", "up-b")]},
            "n": {"deployments": [dep("a", "up-n")]},
        },
    )
    return {**routing, "last_resort": last_resort} if last_resort else routing


def down(fake: FakeUpstream, reply: Reply | None = None) -> None:
    for name in ("a", "b"):
        fake.set_default(name, reply or Reply.overloaded())


def totals(client: httpx.AsyncClient) -> dict[str, int]:
    gateway = client._transport.app.app.state.gateway  # type: ignore[attr-defined]
    counts: dict[str, int] = gateway.metrics.totals()
    return counts


async def test_without_a_rule_the_caller_gets_the_error(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    down(fake_upstream)
    failed = await client.post("/v1/chat/completions", json=BODY)
    assert failed.status_code == 503 and "x-switchyard-fallback" not in failed.headers


async def test_a_stale_cached_answer_within_its_age_answers_for_every_failed_provider(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    clock = Clock(T0)
    rules = {"models": {"m": {"stale_if_error_s": 600}}}
    client = await gateway(
        config(fake_upstream, **rules), settings_extra={**state, "cache_ttl_s": 60}, clock=clock
    )
    fake_upstream.script("a", Reply.ok("The cached words."))
    body = {**BODY, "temperature": 0}
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    clock.advance(60 + 100)  # past its TTL: no longer a hit
    down(fake_upstream)
    calls = fake_upstream.count()
    rescued = await client.post("/v1/chat/completions", json=body)
    assert rescued.status_code == 200, rescued.text
    assert rescued.json()["choices"][0]["message"]["content"] == "The cached words."
    assert rescued.headers["x-switchyard-fallback"] == "stale-cache"
    assert (
        rescued.headers["x-switchyard-cache"] == "stale" and rescued.headers["x-switchyard-stale-s"] == "100"
    )
    assert float(rescued.headers["x-switchyard-cost-usd"]) == 0
    assert fake_upstream.count() == calls + 2  # both deployments were tried first
    streamed = await client.post("/v1/messages", json={**body, "stream": True})
    assert streamed.status_code == 200 and "The cached words." in streamed.text
    assert streamed.headers["x-switchyard-fallback"] == "stale-cache"
    assert totals(client)[LAST_RESORT_STALE_CACHE] == 2
    other = await client.post("/v1/chat/completions", json={**body, "seed": 7})  # never cached
    assert other.status_code == 503
    clock.advance(600)  # now stale for longer than the rule allows
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 503


@pytest.mark.parametrize("failure", [Reply.overloaded(), Reply.rate_limited(retry_after=0)])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/messages"])
async def test_the_template_answers_when_no_stale_answer_can(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, failure: Reply, route: str, stream: bool
) -> None:
    client = await gateway(config(fake_upstream, default={"template": TEMPLATE, "stale_if_error_s": 60}))
    down(fake_upstream, failure)
    rescued = await client.post(route, json={**BODY, "stream": stream})
    assert rescued.status_code == 200, rescued.text
    assert rescued.headers["x-switchyard-fallback"] == "template"
    assert rescued.headers["x-switchyard-provider"] == "template"
    assert TEMPLATE in rescued.text
    if not stream:
        assert float(rescued.headers["x-switchyard-cost-usd"]) == 0
    assert totals(client)[LAST_RESORT_TEMPLATE] == 1


async def test_a_rescued_answer_is_free_never_cached_and_filed_as_what_it_is(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream, default={"template": TEMPLATE}))
    made = (
        await client.post("/admin/keys", json={"tenant": "acme", "budget_usd": 1, "limits": {"tpm": 1000}})
    ).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    down(fake_upstream)
    body = {**BODY, "temperature": 0}
    first = await client.post("/v1/chat/completions", json=body, headers=key)
    assert first.headers["x-switchyard-fallback"] == "template"
    fake_upstream.set_default("a", Reply.ok("A real answer."))
    again = await client.post("/v1/chat/completions", json=body, headers=key)
    assert again.json()["choices"][0]["message"]["content"] == "A real answer."  # not the template
    assert again.headers["x-switchyard-cache"] == "miss"
    gateway = client._transport.app.app.state.gateway  # type: ignore[attr-defined]
    await gateway.usage.drain()
    rows = (await client.get("/v1/usage", params={"group_by": "provider"}, headers=key)).json()["data"]
    template = next(r for r in rows if r["group"] == "template")
    assert (template["requests"], template["errors"], float(template["cost_usd"])) == (1, 0, 0)


@pytest.mark.parametrize(
    ("headers", "cache"),
    [
        ({"x-switchyard-fallback": "none"}, None),
        ({"x-switchyard-fallback": "NONE"}, None),
        ({"x-switchyard-cache": "no-cache"}, None),
        ({"cache-control": "no-store"}, None),
        ({}, {"no-store": True}),
    ],
)
async def test_a_caller_that_declines_the_last_resort_gets_the_honest_error(
    fake_upstream: FakeUpstream,
    gateway: GatewayFactory,
    headers: dict[str, str],
    cache: dict[str, Any] | None,
) -> None:
    client = await gateway(config(fake_upstream, default={"template": TEMPLATE}))
    down(fake_upstream)
    body = {**BODY, **({"cache": cache} if cache else {})}
    failed = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert failed.status_code == 503 and "x-switchyard-fallback" not in failed.headers
    assert LAST_RESORT_TEMPLATE not in totals(client)


async def test_errors_that_are_the_callers_own_are_never_rescued(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream, default={"template": TEMPLATE}))
    fake_upstream.set_default("a", Reply.bad_request())
    refused = await client.post("/v1/chat/completions", json=BODY)
    assert refused.status_code == 400 and "x-switchyard-fallback" not in refused.headers
    malformed = await client.post(
        "/v1/chat/completions", json=BODY, headers={"x-switchyard-fallback": "sometimes"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["param"] == "x-switchyard-fallback"


async def test_a_personas_rule_overrides_its_models(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream, models={"n": {"template": "the model's words"}}))
    persona = {"system_prompt": "You are Acme's bot.", "model": "n", "published": True,
               "last_resort": {"template": "Acme's bot is resting."}}  # fmt: skip
    assert (await client.put("/admin/personas/default/bot", json=persona)).status_code == 200
    down(fake_upstream)
    by_persona = await client.post("/v1/chat/completions", json={**BODY, "model": "persona/bot"})
    assert by_persona.json()["choices"][0]["message"]["content"] == "Acme's bot is resting."
    by_model = await client.post("/v1/chat/completions", json={**BODY, "model": "n"})
    assert by_model.json()["choices"][0]["message"]["content"] == "the model's words"
    assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 503  # m has none


async def test_an_answer_of_last_resort_is_not_remembered(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream, default={"template": TEMPLATE}))
    down(fake_upstream)
    for stream in (False, True):
        rescued = await client.post(
            "/v1/chat/completions",
            json={**BODY, "stream": stream},
            headers={"x-switchyard-conversation": "c"},
        )
        assert rescued.headers["x-switchyard-fallback"] == "template"
    assert (await client.get("/v1/conversations/c")).status_code == 404
