"""Moderation through the attempt loop: the provider's /v1/moderations, the same failover as a
chat call, a flagged category blocking with its name, and what happens when no deployment
answers: fail closed (503) or open (passes, counted), within the policy's own timeout."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from switchyard.config.guardrails import ModerationConfig
from switchyard.config.routing import RetryConfig, RoutingConfig
from switchyard.errors import ContentBlockedError, GatewayError
from switchyard.guardrails.moderation import Moderation
from switchyard.guardrails.tally import Tally
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.providers.http import Upstream
from switchyard.providers.registry import build_providers
from switchyard.routing.attempt import Router
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryBreakerStore

FAST = RetryConfig(base_delay_s=0, max_delay_s=0)


class Upstreams:
    """``/a/v1/moderations`` and ``/b/v1/moderations``, answering as scripted."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[1]
        body = json.loads(request.content)
        self.calls.append((name, body))
        answer = self.answers[name]
        if callable(answer):
            return answer(body)
        if isinstance(answer, int):
            return httpx.Response(answer, json={"error": {"message": "down", "type": "server_error"}})
        results = [
            {"flagged": bool(answer), "categories": answer, "category_scores": {}} for _ in body["input"]
        ]
        return httpx.Response(200, json={"id": "modr-1", "model": body["model"], "results": results})


def moderation(upstreams: Upstreams) -> Moderation:
    config = RoutingConfig.model_validate(
        {
            "providers": {
                "a": {"kind": "openai", "base_url": "http://up/a/v1"},
                "b": {"kind": "openai_compatible", "base_url": "http://up/b/v1"},
                "slow": {"kind": "mock", "mock": {"latency_ms": 5000}},
                "quick": {"kind": "mock"},
            },
            "models": {
                "mod": {
                    "deployments": [{"provider": "a", "model": "omni"}, {"provider": "b", "model": "omni-b"}]
                },
                "slow-mod": {"deployments": [{"provider": "slow", "model": "m"}]},
                "mock-mod": {"deployments": [{"provider": "quick", "model": "m"}]},
            },
        }
    )
    client = Upstream(httpx.MockTransport(upstreams))
    breakers = Breakers(MemoryBreakerStore(), config.breaker)
    providers = build_providers(config, client)
    router = Router(
        RouteTable(config), providers, breakers, ProviderKeys(config, {}), FAST, rng=random.Random(1)
    )
    return Moderation(router)


async def check(
    m: Moderation, config: ModerationConfig, texts: list[str], tally: Tally | None = None
) -> None:
    await m.check("safe", config, texts, tally or Tally(), stage="input", request_id="r1")


async def test_a_flagged_category_blocks_after_failing_over_to_the_next_deployment() -> None:
    upstreams = Upstreams(a=503, b={"violence": True, "hate": False})
    tally = Tally()
    with pytest.raises(ContentBlockedError) as blocked:
        await check(moderation(upstreams), ModerationConfig(model="mod"), ["one", "two"], tally)
    assert (blocked.value.guardrail, blocked.value.rule) == ("safe", "moderation.violence")
    assert [name for name, _ in upstreams.calls] == ["a", "b"]  # a 503 is "overloaded": next one
    assert upstreams.calls[-1][1] == {"model": "omni-b", "input": ["one", "two"]}
    assert tally.counts == {("safe", "blocked", "moderation.violence"): 1}


async def test_only_the_configured_categories_block() -> None:
    upstreams = Upstreams(a={"self-harm": True})
    await check(moderation(upstreams), ModerationConfig(model="mod", categories=("violence",)), ["x"])
    with pytest.raises(ContentBlockedError, match=r"moderation\.self-harm"):
        await check(moderation(upstreams), ModerationConfig(model="mod"), ["x"])


async def test_a_threshold_blocks_on_scores_below_the_provider_s_flag() -> None:
    def scored(body: dict[str, Any]) -> httpx.Response:
        result = {"flagged": False, "categories": {"hate": False}, "category_scores": {"hate": 0.42}}
        return httpx.Response(200, json={"results": [result]})

    m = moderation(Upstreams(a=scored))
    await check(m, ModerationConfig(model="mod", threshold=0.5), ["x"])
    with pytest.raises(ContentBlockedError, match=r"moderation\.hate"):
        await check(m, ModerationConfig(model="mod", threshold=0.4), ["x"])


async def test_an_answer_that_is_not_a_moderation_fails_over() -> None:
    upstreams = Upstreams(a=lambda body: httpx.Response(200, json={"results": []}), b={})
    await check(moderation(upstreams), ModerationConfig(model="mod"), ["x"])
    assert [name for name, _ in upstreams.calls] == ["a", "b"]


async def test_nothing_answers_fail_closed_is_a_503_and_fail_open_passes() -> None:
    upstreams = Upstreams(a=503, b=500)
    with pytest.raises(GatewayError) as unavailable:
        await check(moderation(upstreams), ModerationConfig(model="mod"), ["x"])
    assert unavailable.value.status == 503 and unavailable.value.code == "moderation_unavailable"
    tally = Tally()
    await check(moderation(upstreams), ModerationConfig(model="mod", on_error="open"), ["x"], tally)
    assert tally.counts == {("safe", "moderation_skipped", "moderation.unavailable"): 1}


async def test_the_policy_s_own_timeout_bounds_the_wait() -> None:
    with pytest.raises(GatewayError) as unavailable:
        await check(moderation(Upstreams()), ModerationConfig(model="slow-mod", timeout_s=0.05), ["x"])
    assert unavailable.value.code == "moderation_unavailable"


async def test_the_mock_provider_flags_its_marker_and_blank_input_is_not_sent() -> None:
    m = moderation(Upstreams())
    config = ModerationConfig(model="mock-mod")
    await check(m, config, ["a calm text"])
    with pytest.raises(ContentBlockedError, match=r"moderation\.harassment"):
        await check(m, config, ["fine", "this is mock_flag:harassment"])
    upstreams = Upstreams()
    await check(moderation(upstreams), ModerationConfig(model="mod"), ["  ", ""])
    assert upstreams.calls == []
