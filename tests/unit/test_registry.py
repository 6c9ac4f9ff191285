"""build_providers: one adapter per configured provider, chosen by kind, with its settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import switchyard.config
from switchyard.api.chat import ChatRequest
from switchyard.config.routing import RoutingConfig, load_routing_config
from switchyard.errors import Kind, ProviderError
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target
from switchyard.providers.http import build_client
from switchyard.providers.mock import MockProvider
from switchyard.providers.openai import OpenAIProvider
from switchyard.providers.openai_compatible import OpenAICompatibleProvider
from switchyard.providers.registry import build_providers

CONFIG = RoutingConfig.model_validate(
    {
        "providers": {
            "openai": {"kind": "openai"},
            "claude": {"kind": "anthropic", "base_url": "http://127.0.0.1:9001"},
            "groq": {"kind": "openai_compatible", "base_url": "http://127.0.0.1:9002/openai/v1"},
            "demo": {"kind": "mock", "mock": {"content": "configured answer"}},
        }
    }
)
REQUEST = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
COMPLETION = {
    "id": "c",
    "created": 1,
    "model": "x",
    "choices": [{"message": {"role": "assistant", "content": "ok"}}],
}
MESSAGE = {"id": "msg", "model": "x", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"}


def _target(provider: str) -> Target:
    return Target(provider, f"{provider}/x", "x", base_url=None, api_key="k", timeout_s=5)


async def test_one_adapter_per_provider_by_kind() -> None:
    async with build_client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        providers = build_providers(CONFIG, client)
    assert set(providers) == {"openai", "claude", "groq", "demo"}
    assert type(providers["openai"]) is OpenAIProvider
    assert type(providers["claude"]) is AnthropicProvider
    assert type(providers["groq"]) is OpenAICompatibleProvider
    assert type(providers["demo"]) is MockProvider


async def test_adapters_use_the_shared_client_and_configured_base_urls() -> None:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=MESSAGE if request.url.path.endswith("/messages") else COMPLETION)

    async with build_client(transport=httpx.MockTransport(upstream)) as client:
        providers = build_providers(CONFIG, client)
        for name in ("openai", "claude", "groq"):
            answer = await providers[name].chat(REQUEST, _target(name))
            assert answer.choices[0].message.content == "ok"
    assert seen == [
        "https://api.openai.com/v1/chat/completions",
        "http://127.0.0.1:9001/v1/messages",
        "http://127.0.0.1:9002/openai/v1/chat/completions",
    ]


async def test_mock_gets_its_settings() -> None:
    async with build_client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        providers = build_providers(CONFIG, client)
    answer = await providers["demo"].chat(REQUEST, _target("demo"))
    assert answer.choices[0].message.content == "configured answer"


async def test_unknown_mock_fault_fails_at_build_time() -> None:
    config = RoutingConfig.model_validate({"providers": {"m": {"kind": "mock", "mock": {"fault": "kaboom"}}}})
    async with build_client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        with pytest.raises(ValueError, match="kaboom"):
            build_providers(config, client)


async def test_shipped_config_builds() -> None:
    path = Path(switchyard.config.__file__).parent / "default.yaml"
    env = {"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1", "VLLM_BASE_URL": "http://127.0.0.1:8000/v1"}
    config = load_routing_config(path, env, mock_unconfigured=True)
    async with build_client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        providers = build_providers(config, client)
    assert set(providers) == set(config.providers)
    assert type(providers["ollama"]) is OpenAICompatibleProvider
    # The failover demo's first deployment must fail the way its config says.
    with pytest.raises(ProviderError) as info:
        await providers["mock-flaky"].chat(REQUEST, _target("mock-flaky"))
    assert info.value.kind is Kind.OVERLOADED
