"""The attempt loop against scripted stub providers: every policy row's effect on the calls made."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest

from switchyard.api.chat import AssistantMessage, ChatCompletion, ChatRequest, Choice
from switchyard.config.routing import BreakerConfig, RetryConfig, RoutingConfig
from switchyard.errors import GatewayError, Kind, NotFoundError, ProviderError
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.providers.base import Target
from switchyard.routing.attempt import Router, buffered_call
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryBreakerStore

Step = Kind | str  # a Kind fails the call; "ok" answers


class Script:
    """A provider that plays a per-deployment script of outcomes, then answers ok."""

    def __init__(self, steps: dict[str, Iterable[Step]], retry_after: float | None = None) -> None:
        self.steps = {k: list(v) for k, v in steps.items()}
        self.calls: list[Target] = []
        self.retry_after = retry_after

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        self.calls.append(target)
        queue = self.steps.get(target.deployment_id, [])
        step = queue.pop(0) if queue else "ok"
        if isinstance(step, Kind):
            raise ProviderError(step, f"{step} from {target.deployment_id}", retry_after=self.retry_after)
        msg = AssistantMessage(content=f"answer from {target.deployment_id}")
        return ChatCompletion(id="c", created=0, model=target.upstream_model, choices=[Choice(message=msg)])

    @property
    def sequence(self) -> list[str]:
        return [t.deployment_id for t in self.calls]


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_router(
    script: Script,
    *,
    models: dict[str, Any] | None = None,
    retry: RetryConfig | None = None,
    breaker: BreakerConfig | None = None,
) -> tuple[Router, FakeTime]:
    config = RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock"}},
            "models": models
            or {
                "m": {
                    "deployments": [
                        {"provider": "p", "model": "a", "id": "A", "context_window": 1000},
                        {"provider": "p", "model": "b", "id": "B", "context_window": 1000},
                        {"provider": "p", "model": "c", "id": "C", "context_window": 8000},
                    ]
                }
            },
        }
    )
    time = FakeTime()
    breakers = Breakers(MemoryBreakerStore(), breaker or BreakerConfig(), time.clock)
    router = Router(
        RouteTable(config),
        {"p": script},
        breakers,
        ProviderKeys(config, {}),
        retry or RetryConfig(),
        rng=random.Random(1),
        clock=time.clock,
        sleep=time.sleep,
    )
    return router, time


REQUEST = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


async def test_first_deployment_answers_with_one_call() -> None:
    script = Script({})
    router, _ = make_router(script)
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert outcome.candidate.deployment_id == "A" and outcome.attempts == 1 and script.sequence == ["A"]


async def test_rate_limited_waits_retry_after_and_retries_same_deployment() -> None:
    script = Script({"A": [Kind.RATE_LIMITED]}, retry_after=2.0)
    router, time = make_router(script)
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "A"] and outcome.attempts == 2 and time.slept == [2.0]


async def test_rate_limited_with_long_retry_after_fails_over_without_waiting() -> None:
    script = Script({"A": [Kind.RATE_LIMITED]}, retry_after=60.0)
    router, time = make_router(script)
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "B"] and outcome.candidate.deployment_id == "B" and time.slept == []


async def test_rate_limited_waits_at_most_twice_per_deployment() -> None:
    script = Script({"A": [Kind.RATE_LIMITED] * 5}, retry_after=0.5)
    router, time = make_router(script)
    await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "A", "A", "B"] and time.slept == [0.5, 0.5]


async def test_quota_exceeded_fails_over_and_parks_the_deployment() -> None:
    script = Script({"A": [Kind.QUOTA_EXCEEDED]})
    router, _ = make_router(script)
    await router.run(REQUEST, 30, buffered_call)
    await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "B", "B"]  # A stays out on the second request


@pytest.mark.parametrize("kind", [Kind.OVERLOADED, Kind.TIMEOUT, Kind.BAD_RESPONSE, Kind.AUTH])
async def test_next_deployment_immediately(kind: Kind) -> None:
    script = Script({"A": [kind]})
    router, time = make_router(script)
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "B"] and outcome.attempts == 2 and time.slept == []


async def test_server_error_retries_once_with_backoff_then_fails_over() -> None:
    script = Script({"A": [Kind.SERVER_ERROR, Kind.SERVER_ERROR]})
    router, time = make_router(script, retry=RetryConfig(base_delay_s=0.5))
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "A", "B"] and outcome.attempts == 3
    assert len(time.slept) == 1 and 0 <= time.slept[0] <= 0.5


async def test_context_length_skips_to_a_larger_window() -> None:
    script = Script({"A": [Kind.CONTEXT_LENGTH]})
    router, _ = make_router(script)
    outcome = await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "C"] and outcome.candidate.deployment_id == "C"


async def test_context_length_with_nothing_larger_reaches_the_caller_as_400() -> None:
    script = Script({"C": [Kind.CONTEXT_LENGTH]})
    models = {"m": {"deployments": [{"provider": "p", "model": "c", "id": "C", "context_window": 8000}]}}
    router, _ = make_router(script, models=models)
    with pytest.raises(ProviderError) as info:
        await router.run(REQUEST, 30, buffered_call)
    assert info.value.status == 400 and info.value.code == "context_length_exceeded"


@pytest.mark.parametrize("kind", [Kind.CONTENT_FILTER, Kind.INVALID_REQUEST])
async def test_stop_kinds_reach_the_caller_without_failover(kind: Kind) -> None:
    script = Script({"A": [kind]})
    router, _ = make_router(script)
    with pytest.raises(ProviderError) as info:
        await router.run(REQUEST, 30, buffered_call)
    assert info.value.kind is kind and info.value.status == 400 and script.sequence == ["A"]


async def test_all_failing_is_503_with_retry_after() -> None:
    script = Script({d: [Kind.OVERLOADED] for d in "ABC"})
    router, _ = make_router(script)
    with pytest.raises(GatewayError) as info:
        await router.run(REQUEST, 30, buffered_call)
    assert (
        info.value.status == 503 and info.value.retry_after is not None and script.sequence == ["A", "B", "C"]
    )


async def test_all_rate_limited_is_429_with_retry_after() -> None:
    script = Script({d: [Kind.RATE_LIMITED] for d in "ABC"}, retry_after=45.0)
    router, _ = make_router(script)
    with pytest.raises(GatewayError) as info:
        await router.run(REQUEST, 30, buffered_call)
    assert info.value.status == 429 and info.value.retry_after == 45.0


async def test_max_attempts_bounds_upstream_calls() -> None:
    script = Script({d: [Kind.SERVER_ERROR] * 3 for d in "ABC"})
    router, _ = make_router(script, retry=RetryConfig(max_attempts=4, base_delay_s=0))
    with pytest.raises(GatewayError):
        await router.run(REQUEST, 30, buffered_call)
    assert len(script.calls) == 4


async def test_deadline_bounds_the_loop_and_caps_each_call_timeout() -> None:
    script = Script({"A": [Kind.RATE_LIMITED]}, retry_after=3.0)
    router, _ = make_router(script)
    await router.run(REQUEST, 10, buffered_call)
    assert script.calls[0].timeout_s == 10 and script.calls[1].timeout_s == pytest.approx(7)


async def test_open_breaker_skips_the_deployment_without_a_call() -> None:
    script = Script({"A": [Kind.SERVER_ERROR] * 4})
    router, time = make_router(
        script, retry=RetryConfig(base_delay_s=0), breaker=BreakerConfig(failure_threshold=2, cooldown_s=5)
    )
    await router.run(REQUEST, 30, buffered_call)  # A fails twice (retry once): breaker opens
    script.calls.clear()
    await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["B"]
    time.now += 6  # cool-down over: one probe, which succeeds and closes the breaker
    script.steps["A"] = []
    script.calls.clear()
    await router.run(REQUEST, 30, buffered_call)
    await router.run(REQUEST, 30, buffered_call)
    assert script.sequence == ["A", "A"]


async def test_every_breaker_open_is_503_with_the_cooldown_as_retry_after() -> None:
    script = Script({d: [Kind.OVERLOADED] for d in "ABC"})
    router, _ = make_router(script, breaker=BreakerConfig(failure_threshold=1, cooldown_s=20))
    with pytest.raises(GatewayError):
        await router.run(REQUEST, 30, buffered_call)
    script.calls.clear()
    with pytest.raises(GatewayError) as info:
        await router.run(REQUEST, 30, buffered_call)
    assert script.calls == [] and info.value.status == 503 and info.value.retry_after == 20


async def test_unknown_model_is_not_found() -> None:
    router, _ = make_router(Script({}))
    with pytest.raises(NotFoundError):
        await router.run(
            ChatRequest.model_validate({"model": "x", "messages": [{"role": "user"}]}), 30, buffered_call
        )


async def test_deadline_spent_on_a_timeout_is_504() -> None:
    class Slow(Script):
        async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
            self.calls.append(target)
            time.now += target.timeout_s  # the call used all the time it was given
            raise ProviderError(Kind.TIMEOUT, "slow")

    script = Slow({})
    router, time = make_router(script)
    with pytest.raises(GatewayError) as info:
        await router.run(REQUEST, 5, buffered_call)
    assert info.value.status == 504 and script.sequence == ["A"]
