"""The composition root: builds the gateway's parts from settings once per cold start.

This is the one place that picks adapters (memory state for now; DynamoDB next) and owns the
pooled upstream client. Handlers and the HTTP layer receive a ready :class:`Gateway`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import httpx

from switchyard.config.routing import RoutingConfig, load_routing_config
from switchyard.config.settings import Settings
from switchyard.keys.client_auth import MasterKeyAuth, read_master_key
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.providers.http import build_client
from switchyard.providers.registry import build_providers
from switchyard.routing.attempt import Router
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryBreakerStore


@dataclass(slots=True)
class Gateway:
    settings: Settings
    config: RoutingConfig
    table: RouteTable
    router: Router
    breakers: Breakers
    auth: MasterKeyAuth
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


async def open_gateway(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Gateway:
    """Validate the routing config and wire every part. Raises ValueError (with the config path)
    on an invalid config or a missing master key, so a bad deployment fails at cold start."""
    try:
        config = load_routing_config(
            settings.config_path, settings.environment, mock_unconfigured=bool(settings.mock_unconfigured)
        )
    except (OSError, ValueError) as exc:
        raise ValueError(f"invalid routing config {settings.config_path}: {exc}") from exc
    master = settings.master_key
    if master is None and settings.master_key_secret:
        master = await asyncio.to_thread(read_master_key, settings.master_key_secret)
    if master is None:
        raise ValueError("no master key: set SWITCHYARD_MASTER_KEY or SWITCHYARD_MASTER_KEY_SECRET")
    client = build_client(transport)
    table = RouteTable(config)
    breakers = Breakers(MemoryBreakerStore(), config.breaker)
    keys = ProviderKeys(config, settings.environment, max_age_s=settings.secrets_max_age_s)
    router = Router(table, build_providers(config, client), breakers, keys, config.retry, rng=random.Random())
    return Gateway(settings, config, table, router, breakers, MasterKeyAuth(master), client)
