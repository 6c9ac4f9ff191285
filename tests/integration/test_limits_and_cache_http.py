"""Limits and the cache as a caller sees them: the ASGI app with the fake upstream, on memory state
and on DynamoDB (moto, the template's tables): x-switchyard-cache hit/miss/skip, x-ratelimit-*,
429 with Retry-After, and failover past a deployment at its own limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, assert_openai_error, assert_served, dep, retry_after

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream
from statekit import T0, Clock


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings fields of the state backend under test."""
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 15)  # 45 s before the minute window resets


def config(fake: FakeUpstream, *, limits: dict[str, Any] | None = None, **a_limits: Any) -> dict[str, Any]:
    routing = fake.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a", **a_limits), dep("b", "up-b")]}},
    )
    return {**routing, "limits": limits or {}}


async def ask(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", json={"model": "m", "messages": MESSAGES, **fields}, headers=headers or {}
    )


# ------------------------------------------------------------------------------------ cache


async def test_a_repeated_deterministic_request_is_answered_from_the_cache(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=clock)
    first = await ask(client, temperature=0)
    assert_served(first, fake_upstream, provider="a", model="up-a", attempts=1)
    assert first.headers["x-switchyard-cache"] == "miss"
    second = await ask(client, temperature=0, user="someone-else")
    assert second.status_code == 200
    assert second.headers["x-switchyard-cache"] == "hit"
    assert second.content == first.content
    assert (second.headers["x-switchyard-provider"], second.headers["x-switchyard-model"]) == ("a", "up-a")
    assert second.headers["x-switchyard-attempts"] == "0"
    assert float(second.headers["x-switchyard-cost-usd"]) == 0
    assert fake_upstream.count("a") == 1  # no upstream call for the hit


async def test_cache_controls_skip_the_lookup_or_the_write(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=clock)
    assert (await ask(client, temperature=0.7)).headers["x-switchyard-cache"] == "skip"
    assert (await ask(client, temperature=0.7)).headers["x-switchyard-cache"] == "skip"
    no_store = {"x-switchyard-cache": "no-store"}
    assert (await ask(client, no_store, seed=1)).headers["x-switchyard-cache"] == "miss"
    assert (await ask(client, no_store, seed=1)).headers["x-switchyard-cache"] == "miss"
    assert (await ask(client, {"x-switchyard-cache": "no-cache"}, seed=1)).headers[
        "x-switchyard-cache"
    ] == "skip"
    assert (await ask(client, seed=1)).headers["x-switchyard-cache"] == "hit"  # stored by the no-cache one
    opted_in = await ask(client, {"x-switchyard-cache-ttl": "30"}, temperature=0.7)
    assert opted_in.headers["x-switchyard-cache"] == "miss"
    assert (await ask(client, temperature=0.7, cache={"ttl": 30})).headers["x-switchyard-cache"] == "hit"
    assert fake_upstream.count("a") == 6
    clock.advance(30)
    assert (await ask(client, temperature=0.7, cache={"ttl": 30})).headers["x-switchyard-cache"] == "miss"


async def test_a_malformed_cache_ttl_header_is_a_400(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    response = await ask(client, {"x-switchyard-cache-ttl": "forever"})
    assert_openai_error(response, fake_upstream, 400, code="invalid_cache_ttl")
    assert fake_upstream.count() == 0


# ------------------------------------------------------------------------------------ key limits


async def test_a_key_over_its_requests_per_minute_gets_429_with_retry_after_and_headers(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    limits = {"default": {"rpm": 2, "tpm": 100_000}}
    client = await gateway(config(fake_upstream, limits=limits), settings_extra=state, clock=clock)
    first, second = await ask(client), await ask(client)
    for response, remaining in ((first, "1"), (second, "0")):
        assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)
        assert response.headers["x-ratelimit-limit-requests"] == "2"
        assert response.headers["x-ratelimit-remaining-requests"] == remaining
        assert response.headers["x-ratelimit-reset-requests"] == "45s"
        assert response.headers["x-ratelimit-limit-tokens"] == "100000"
        assert int(response.headers["x-ratelimit-remaining-tokens"]) < 100_000
    refused = await ask(client)
    assert_openai_error(
        refused, fake_upstream, 429, code="rate_limit_exceeded", error_type="rate_limit_error"
    )
    assert retry_after(refused) == 45
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert "requests per minute" in refused.json()["error"]["message"]
    assert fake_upstream.count("a") == 2
    clock.advance(45)
    assert (await ask(client)).status_code == 200


async def test_tokens_are_estimated_before_reconciled_after_and_a_cache_hit_spends_none(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    # "Say hello." is 3 prompt tokens + 4 overhead, so max_tokens=200 estimates 207; the fake
    # upstream reports 18 tokens used.
    limits = {"default": {"rpm": 100, "tpm": 250}, "lease_fraction": 1.0}
    client = await gateway(config(fake_upstream, limits=limits), settings_extra=state, clock=clock)
    assert (await ask(client, seed=1, max_tokens=200)).headers["x-switchyard-cache"] == "miss"
    for _ in range(3):  # hits: a request each, no tokens
        assert (await ask(client, seed=1, max_tokens=200)).headers["x-switchyard-cache"] == "hit"
    # 18 used + 207 estimated fits only because the first estimate was reconciled to 18.
    assert (await ask(client, max_tokens=200)).status_code == 200
    refused = await ask(client, max_tokens=230)  # 36 used + 237 estimated > 250
    assert refused.status_code == 429
    assert "tokens per minute" in refused.json()["error"]["message"]
    assert int(refused.headers["x-ratelimit-remaining-tokens"]) == 250 - 36
    assert fake_upstream.count("a") == 2


async def test_per_key_overrides_replace_the_default(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    from fakes import MASTER_KEY
    from switchyard.keys.ids import key_id

    limits = {"default": {"rpm": 1}, "keys": {key_id(MASTER_KEY): {"rpm": 3}}}
    client = await gateway(config(fake_upstream, limits=limits), settings_extra=state, clock=clock)
    assert [(await ask(client)).status_code for _ in range(4)] == [200, 200, 200, 429]


# ------------------------------------------------------------------------------------ deployments


async def test_a_deployment_at_its_own_limit_is_skipped_without_a_call(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    client = await gateway(config(fake_upstream, rpm=1), settings_extra=state, clock=clock)
    assert_served(await ask(client), fake_upstream, provider="a", model="up-a", attempts=1)
    assert_served(await ask(client), fake_upstream, provider="b", model="up-b", attempts=1)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


async def test_every_deployment_at_its_limit_is_a_429(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    routing = fake_upstream.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up-a", max_concurrent=5, rpm=1)]}}
    )
    client = await gateway(routing, settings_extra=state, clock=clock)
    assert (await ask(client)).status_code == 200
    refused = await ask(client)
    assert_openai_error(refused, fake_upstream, 429, code="rate_limit_exceeded")
    assert retry_after(refused) == 45
    assert fake_upstream.count("a") == 1


async def test_readiness_reports_the_state_backend_and_counters(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=clock)
    await ask(client, seed=3)
    await ask(client, seed=3)
    ready = (await client.get("/health/ready")).json()["state"]
    assert ready["backend"] == ("dynamodb" if state else "memory")
    assert ready["degraded"] == []
    assert ready["counters"] == {"CacheMiss": 1, "CacheHit": 1}
    assert (ready["aws_calls"] > 0) == bool(state)


async def test_a_streamed_answer_settles_its_deployment_tokens_like_a_buffered_one(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any], clock: Clock
) -> None:
    # Each request is estimated at > 1000 tokens (max_tokens) but uses a few dozen: only if the
    # first stream hands back its unused estimate does the second still fit deployment a's TPM.
    client = await gateway(config(fake_upstream, tpm=1500), settings_extra=state, clock=clock)
    for _ in range(2):
        async with client.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "m", "messages": MESSAGES, "stream": True, "max_tokens": 1000},
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-switchyard-provider"] == "a"
            body = (await response.aread()).decode()
        assert body.rstrip().endswith("data: [DONE]")
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (2, 0)
