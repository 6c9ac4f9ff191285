"""open_stream inside the attempt loop: what fails before the first token is retried or failed over,
and every stream left behind is closed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator

import pytest

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta
from switchyard.config.routing import RetryConfig, RoutingConfig
from switchyard.errors import GatewayError, InvalidRequestError, Kind, ProviderError
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.providers.base import Target
from switchyard.routing.attempt import Router
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.routing.stream import open_stream
from switchyard.state.memory import MemoryBreakerStore

ROLE = ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(role="assistant", content=""))])
TOKEN = ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(content="Hi"))])
FINISH = ChatCompletionChunk(choices=[ChunkChoice(finish_reason="stop")])

# Per deployment: chunks to yield, then the error to raise (None: end normally).
Plan = tuple[list[ChatCompletionChunk], Kind | None]


class Streams:
    """A provider whose streams follow a per-deployment plan and record being closed."""

    def __init__(self, plans: dict[str, list[Plan]]) -> None:
        self.plans = plans
        self.opened: list[str] = []
        self.closed: list[str] = []

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        raise AssertionError("streams only")

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        self.opened.append(target.deployment_id)
        plans = self.plans.get(target.deployment_id) or [([ROLE, TOKEN, FINISH], None)]
        chunks, failure = plans.pop(0) if len(plans) > 1 else plans[0]
        try:
            for chunk in chunks:
                yield chunk
            if failure is not None:
                raise ProviderError(failure, f"{failure} from {target.deployment_id}")
        finally:
            self.closed.append(target.deployment_id)


def _router(provider: Streams, timeout_s: float = 60) -> Router:
    config = RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock", "timeout_s": timeout_s}},
            "models": {
                "m": {
                    "deployments": [
                        {"provider": "p", "model": "a", "id": "A"},
                        {"provider": "p", "model": "b", "id": "B"},
                    ]
                }
            },
        }
    )
    retry = RetryConfig(base_delay_s=0, max_delay_s=0)
    breakers = Breakers(MemoryBreakerStore(), config.breaker)
    keys = ProviderKeys(config, {})
    return Router(RouteTable(config), {"p": provider}, breakers, keys, retry, rng=random.Random(0))


REQUEST = ChatRequest.model_validate(
    {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
)


async def test_first_token_is_read_before_returning_and_the_rest_stays_open() -> None:
    provider = Streams({})
    outcome = await _router(provider).run(REQUEST, 10, open_stream)

    assert outcome.result.head == [ROLE, TOKEN]
    assert provider.closed == []
    assert [c async for c in outcome.result.rest] == [FINISH]
    await outcome.result.aclose()
    assert provider.closed == ["A"]


@pytest.mark.parametrize(
    ("plan", "opened"),
    [
        (([], Kind.OVERLOADED), ["A", "B"]),
        (([ROLE], Kind.BAD_RESPONSE), ["A", "B"]),  # dropped after the role chunk: no token yet
        (([ROLE], Kind.TIMEOUT), ["A", "B"]),
        (([], Kind.SERVER_ERROR), ["A", "A", "B"]),  # retried once, then failed over
    ],
)
async def test_failures_before_the_first_token_follow_the_error_table(plan: Plan, opened: list[str]) -> None:
    provider = Streams({"A": [plan]})
    outcome = await _router(provider).run(REQUEST, 10, open_stream)

    assert outcome.candidate.deployment_id == "B"
    assert provider.opened == opened
    assert provider.closed == opened[:-1]  # every failed stream was closed
    await outcome.result.aclose()


async def test_a_failure_after_the_first_token_is_not_the_loops() -> None:
    provider = Streams({"A": [([ROLE, TOKEN], Kind.BAD_RESPONSE)]})
    outcome = await _router(provider).run(REQUEST, 10, open_stream)

    assert outcome.candidate.deployment_id == "A"
    with pytest.raises(ProviderError):
        _ = [c async for c in outcome.result.rest]
    assert provider.opened == ["A"]


async def test_an_empty_answer_is_complete() -> None:
    provider = Streams({"A": [([ROLE], None)]})
    outcome = await _router(provider).run(REQUEST, 10, open_stream)
    assert outcome.result.head == [ROLE]
    assert [c async for c in outcome.result.rest] == []


async def test_all_failing_is_a_gateway_error_and_an_invalid_request_stops() -> None:
    failing = Streams({"A": [([], Kind.OVERLOADED)], "B": [([ROLE], Kind.TIMEOUT)]})
    with pytest.raises(GatewayError):
        await _router(failing).run(REQUEST, 10, open_stream)
    assert failing.closed == failing.opened == ["A", "B"]

    class Refusing(Streams):
        async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
            raise InvalidRequestError("n must be 1")
            yield ROLE  # an async generator that raises at its first step

    with pytest.raises(InvalidRequestError):
        await _router(Refusing({})).run(REQUEST, 10, open_stream)


async def test_an_upstream_sending_only_keep_alives_times_out_and_fails_over() -> None:
    class KeepAlive(Streams):
        async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
            if target.deployment_id == "B":
                async for chunk in super().stream(request, target):
                    yield chunk
                return
            self.opened.append("A")
            try:
                yield ROLE
                while True:  # pings, thinking deltas... never a token
                    await asyncio.sleep(0.005)
                    yield ChatCompletionChunk()
            finally:
                self.closed.append("A")

    provider = KeepAlive({})
    outcome = await _router(provider, timeout_s=0.05).run(REQUEST, 10, open_stream)

    assert outcome.candidate.deployment_id == "B"
    assert provider.closed == ["A"]
    await outcome.result.aclose()
