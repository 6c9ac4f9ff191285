"""The composition root: builds the gateway's parts from settings once per cold start.

This is the one place that picks adapters (DynamoDB state when a table is named, memory
otherwise) and owns the pooled upstream client and the AWS client. Handlers and the HTTP layer
receive a ready :class:`Gateway`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from time import time

import httpx

from switchyard.accounting import Accounting
from switchyard.budgets.service import Budgets
from switchyard.cache.service import CacheService
from switchyard.config.prices import load_prices
from switchyard.config.routing import RoutingConfig, load_routing_config
from switchyard.config.settings import Settings
from switchyard.eventbus import EventPublisher, MemoryPublisher, build_publisher
from switchyard.gate import Gate
from switchyard.jobs.service import JobsService
from switchyard.jobs.setup import open_jobs
from switchyard.keys.auth import ClientAuth
from switchyard.keys.client_auth import read_master_key
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.limits.enforce import DeploymentLimits, KeyLimits
from switchyard.limits.limiter import Limiter
from switchyard.metrics.sink import MetricSink
from switchyard.providers.http import build_client
from switchyard.providers.registry import build_providers
from switchyard.routing.attempt import Router
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.state.factory import State, dynamo_state, memory_state
from switchyard.usage.recorder import UsageRecorder


@dataclass(slots=True)
class Gateway:
    settings: Settings
    config: RoutingConfig
    table: RouteTable
    router: Router
    breakers: Breakers
    auth: ClientAuth  # the master (admin) key and virtual keys, through a warm cache
    client: httpx.AsyncClient
    gate: Gate  # cache lookup and client key limits, before routing
    state: State
    metrics: MetricSink
    # Usage and cost of every answer; usage/limit/budget stores attach as sinks.
    accounting: Accounting = field(default_factory=Accounting)
    # Operational events (provider key rejected, budget thresholds): EventBridge or memory.
    events: EventPublisher = field(default_factory=MemoryPublisher)
    jobs: JobsService | None = None  # async jobs (submission, results, webhooks)

    async def flush(self) -> None:
        """Write what is buffered: usage aggregates, budget settlements, metrics. At shutdown, and
        after each jobs batch: a Lambda instance may be frozen or reclaimed between invocations,
        and what it still holds would be lost (or, for metrics, reach the cost alarms late)."""
        if self.gate.usage is not None:
            await self.gate.usage.drain()
        if self.gate.budgets is not None:
            await self.gate.budgets.flush()
        self.metrics.flush()
        self.metrics.requests.flush()

    async def aclose(self) -> None:
        if self.jobs is not None:
            await self.jobs.aclose()
        await self.client.aclose()
        await self.flush()  # before the state closes
        self.state.close()
        self.metrics.close()


async def open_gateway(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Gateway:
    """Validate the routing config and wire every part. Raises ValueError (with the config path)
    on an invalid config or a missing master key, so a bad deployment fails at cold start.
    ``clock`` (wall time) drives shared state: breakers, limit windows, cache expiry."""
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
    prices = load_prices(settings.prices_path)  # ValueError naming the file: fail at cold start
    events = build_publisher(settings.event_bus_name, settings.aws_region, settings.aws_endpoint_url)
    client = build_client(transport)
    table = RouteTable(config)
    metrics = MetricSink(namespace=settings.metrics_namespace, service=settings.service_name)
    state = (
        dynamo_state(settings, metrics, clock=clock) if settings.state_table else memory_state(clock=clock)
    )
    breakers = Breakers(state.breakers, config.breaker, clock, on_open=metrics.requests.breaker_opened)
    gate, deployment_limits = _gate(settings, config, state, metrics, clock)
    keys = ProviderKeys(config, settings.environment, max_age_s=settings.secrets_max_age_s)
    router = Router(
        table,
        build_providers(config, client),
        breakers,
        keys,
        config.retry,
        rng=random.Random(),
        limits=deployment_limits,
        events=events,
        metrics=metrics.requests,
    )
    accounting = Accounting(prices=prices)
    gateway = Gateway(
        settings,
        config,
        table,
        router,
        breakers,
        ClientAuth(master, state.keys, ttl_s=settings.key_cache_ttl_s, clock=clock, wall=clock),
        client,
        gate,
        state,
        metrics,
        accounting,
        events,
    )
    gateway.accounting.add_sink(gate)  # answers' usage settles their key's token estimate
    gateway.jobs = await open_jobs(settings, state.jobs, clock=clock, webhook_transport=webhook_transport)
    gate.accounting = accounting  # cache hits are accounted too (cost 0, what they saved)
    gate.identities = gateway.auth.identity  # allowed models and a virtual key's own limits
    # Usage aggregates, summed in memory and written in the background every usage_flush_s.
    gate.usage = UsageRecorder(state.usage, flush_s=settings.usage_flush_s, clock=clock)
    gate.usage.observer = metrics.requests  # CostUSD, tokens, answers per provider/model/tenant
    # Spend reserved against key, tenant and global budgets before each upstream call.
    gate.budgets = Budgets(
        state.budgets,
        config.budgets,
        table,
        prices=prices,
        events=events,
        clock=clock,
        ttl_s=settings.budget_cache_ttl_s,
        fail_closed=settings.budgets_fail_closed,
    )
    return gateway


def _gate(
    settings: Settings, config: RoutingConfig, state: State, metrics: MetricSink, clock: Callable[[], float]
) -> tuple[Gate, DeploymentLimits]:
    """The cache and the limits: key limits at the gate, deployment limits in the attempt loop,
    one limiter (one set of leases) for both."""
    limits = config.limits
    limiter = Limiter(
        state.limits,
        lease_fraction=limits.lease_fraction,
        lease_horizon_s=limits.lease_horizon_s,
        slot_ttl_s=limits.slot_ttl_s,
        clock=clock,
    )
    cache = CacheService(
        state.cache, metrics, enabled=settings.cache_enabled, default_ttl_s=settings.cache_ttl_s, clock=clock
    )
    return Gate(cache, KeyLimits(limiter, limits, metrics)), DeploymentLimits(limiter, limits, metrics)
