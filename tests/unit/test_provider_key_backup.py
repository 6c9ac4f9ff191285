"""A provider's 401/403: one retry with the secret's backup key, a `Provider Key Rejected` event,
then failover (DESIGN §3 error policy, §6)."""

from __future__ import annotations

import random
from typing import Any

from switchyard.api.chat import AssistantMessage, ChatCompletion, ChatRequest, Choice
from switchyard.config.routing import RetryConfig, RoutingConfig
from switchyard.errors import Kind, ProviderError
from switchyard.events import KEY_REJECTED, MemoryPublisher
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.providers.base import Target
from switchyard.routing.attempt import Router, buffered_call
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryBreakerStore

REQUEST = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


class KeyCheckingProvider:
    """Accepts only the keys in ``valid``; a 401 for any other."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.calls: list[tuple[str, str | None]] = []

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        self.calls.append((target.deployment_id, target.api_key))
        if target.api_key not in self.valid:
            raise ProviderError(Kind.AUTH, "Incorrect API key provided.", upstream_status=401)
        msg = AssistantMessage(content="ok")
        return ChatCompletion(id="c", created=0, model=target.upstream_model, choices=[Choice(message=msg)])


def make_router(
    secret: dict[str, str], valid: set[str]
) -> tuple[Router, KeyCheckingProvider, MemoryPublisher]:
    config = RoutingConfig.model_validate(
        {
            "providers": {
                "p": {"kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": {"secret": "p-secret"}},
                "q": {"kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": {"env": "Q_KEY"}},
            },
            "models": {
                "m": {
                    "deployments": [
                        {"provider": "p", "model": "a", "id": "A"},
                        {"provider": "q", "model": "b", "id": "B"},
                    ]
                }
            },
        }
    )

    def read_secret(name: str, max_age: int) -> Any:
        assert name == "p-secret"
        return secret

    provider = KeyCheckingProvider(valid | {"q-key"})
    events = MemoryPublisher()
    router = Router(
        RouteTable(config),
        {"p": provider, "q": provider},
        Breakers(MemoryBreakerStore(), config.breaker),
        ProviderKeys(config, {"Q_KEY": "q-key"}, read_secret=read_secret),
        RetryConfig(),
        rng=random.Random(1),
        events=events,
    )
    return router, provider, events


async def test_a_rejected_primary_is_retried_once_with_the_backup() -> None:
    router, provider, events = make_router({"primary": "old", "backup": "new"}, valid={"new"})
    outcome = await router.run(REQUEST, 10, buffered_call)
    assert outcome.candidate.deployment_id == "A"
    assert provider.calls == [("A", "old"), ("A", "new")]
    assert outcome.attempts == 2
    [(kind, detail)] = events.events
    assert kind == KEY_REJECTED
    assert detail == {"provider": "p", "deployment": "A", "status": 401, "backup_available": True}
    assert "old" not in str(detail) and "new" not in str(detail)  # never the keys


async def test_a_rejected_backup_fails_over_to_the_next_deployment() -> None:
    router, provider, events = make_router({"primary": "old", "backup": "older"}, valid=set())
    outcome = await router.run(REQUEST, 10, buffered_call)
    assert outcome.candidate.deployment_id == "B"
    assert provider.calls == [("A", "old"), ("A", "older"), ("B", "q-key")]
    assert len(events.events) == 1


async def test_without_a_backup_the_loop_fails_over_at_once_and_says_so() -> None:
    router, provider, events = make_router({"primary": "old", "backup": ""}, valid=set())
    outcome = await router.run(REQUEST, 10, buffered_call)
    assert outcome.candidate.deployment_id == "B"
    assert provider.calls == [("A", "old"), ("B", "q-key")]
    assert events.events[0][1]["backup_available"] is False
