"""One adapter per configured provider, built once per cold start."""

from __future__ import annotations

import random
from collections.abc import Mapping

from switchyard.config.routing import ProviderConfig, RoutingConfig
from switchyard.providers.anthropic import ANTHROPIC_BASE_URL, AnthropicProvider
from switchyard.providers.azure_openai import AZURE_API_VERSION, AzureOpenAIProvider
from switchyard.providers.base import Provider
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.http import Upstream
from switchyard.providers.mock import MockProvider
from switchyard.providers.openai import OPENAI_BASE_URL, OpenAIProvider
from switchyard.providers.openai_compatible import OpenAICompatibleProvider
from switchyard.providers.perplexity import PERPLEXITY_BASE_URL, PerplexityProvider


def build_providers(
    config: RoutingConfig,
    client: Upstream,
    *,
    rng: random.Random | None = None,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Provider]:
    """Adapters by provider name. ``rng`` drives the mocks' ``fault_rate`` (seed it in tests);
    ``environment`` holds the AWS credentials Bedrock calls are signed with, if it names any.

    Raises ValueError for a mock whose configured fault name is unknown, or a Bedrock region
    that is not one.
    """
    env = environment or {}
    return {name: _build(cfg, client, rng, env) for name, cfg in config.providers.items()}


def _build(
    cfg: ProviderConfig, client: Upstream, rng: random.Random | None, environment: Mapping[str, str]
) -> Provider:
    match cfg.kind:
        case "openai":
            return OpenAIProvider(client, cfg.base_url or OPENAI_BASE_URL, stream_usage=cfg.stream_usage)
        case "anthropic":
            return AnthropicProvider(client, cfg.base_url or ANTHROPIC_BASE_URL)
        case "openai_compatible":
            # ProviderConfig guarantees a base_url for this kind.
            return OpenAICompatibleProvider(client, cfg.base_url or "", stream_usage=cfg.stream_usage)
        case "azure_openai":
            return AzureOpenAIProvider(
                client,
                cfg.base_url or "",
                api_version=cfg.api_version or AZURE_API_VERSION,
                stream_usage=cfg.stream_usage,
            )
        case "perplexity":
            return PerplexityProvider(client, cfg.base_url or PERPLEXITY_BASE_URL)
        case "bedrock":
            # ProviderConfig guarantees a region for this kind.
            return BedrockProvider.for_region(client, cfg.region or "", environment)
        case "mock":
            return MockProvider(cfg.mock, rng=rng)
