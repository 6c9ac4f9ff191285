"""The composition root: builds the gateway's parts from settings once per cold start.

This is the one place that picks adapters (DynamoDB state when a table is named, memory
otherwise) and owns the pooled upstream client and the AWS client. Handlers and the HTTP layer
receive a ready :class:`Gateway`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from time import time

import httpx

from switchyard.accounting import Accounting
from switchyard.budgets.service import Budgets
from switchyard.cache.service import CacheService
from switchyard.config.prices import load_prices
from switchyard.config.routing import RoutingConfig, load_routing_config
from switchyard.config.settings import Settings
from switchyard.core import Pipeline, Stage
from switchyard.core.stages import (
    AccessStage,
    BudgetStage,
    CacheStage,
    GuardrailOutputStage,
    GuardrailStage,
    KeyLimitsStage,
    UsageStage,
)
from switchyard.core.stages.configured import with_configured
from switchyard.eventbus import EventPublisher, build_publisher
from switchyard.guardrails import Guardrails, Moderation
from switchyard.jobs.service import JobsService
from switchyard.jobs.setup import open_jobs
from switchyard.keys.auth import ClientAuth
from switchyard.keys.client_auth import read_master_key
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.keys.signatures import RequestSigning, signing_master
from switchyard.keys.tenants import TenantCache
from switchyard.limits.enforce import DeploymentLimits, KeyLimits
from switchyard.limits.limiter import Limiter
from switchyard.metrics.sink import MetricSink
from switchyard.providers.http import Upstream, build_client
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
    pipeline: Pipeline  # the request path: stages, then the attempt loop
    breakers: Breakers
    auth: ClientAuth  # the master (admin) key and virtual keys, through a warm cache
    client: Upstream  # the pooled upstream transport
    state: State
    metrics: MetricSink
    accounting: Accounting  # prices every answer
    usage: UsageRecorder  # usage aggregates, written in the background
    budgets: Budgets  # spend reserved against key, tenant and global budgets
    # Operational events (provider key rejected, budget thresholds): EventBridge or memory.
    events: EventPublisher
    jobs: JobsService  # async jobs (submission, results, webhooks)
    tenants: TenantCache  # tenant records through a warm cache (guardrails, signing requirements)
    guardrails: Guardrails  # named policies of the routing config (the admin API checks names)
    signing: RequestSigning  # signed requests: key secrets, verification, replay protection

    async def flush(self) -> None:
        """Write what is buffered: usage aggregates, budget settlements, metrics. At shutdown, and
        after each jobs batch: a Lambda instance may be frozen or reclaimed between invocations,
        and what it still holds would be lost (or, for metrics, reach the cost alarms late)."""
        await self.usage.drain()
        await self.budgets.flush()
        self.metrics.flush()
        self.metrics.requests.flush()
        self.metrics.guardrails.flush()

    async def aclose(self) -> None:
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
    # One limiter (one set of leases) for the key limits of the pipeline and the deployment
    # limits of the attempt loop.
    limits = config.limits
    limiter = Limiter(
        state.limits, lease_fraction=limits.lease_fraction, slot_ttl_s=limits.slot_ttl_s, clock=clock
    )
    keys = ProviderKeys(config, settings.environment, max_age_s=settings.secrets_max_age_s)
    router = Router(
        table,
        build_providers(config, client),
        breakers,
        keys,
        config.retry,
        rng=random.Random(),
        limits=DeploymentLimits(limiter, limits, metrics),
        events=events,
        metrics=metrics.requests,
    )
    accounting = Accounting(prices)
    auth = ClientAuth(master, state.keys, ttl_s=settings.key_cache_ttl_s, clock=clock, wall=clock)
    # Usage aggregates, summed in memory and written in the background every usage_flush_s;
    # every answer also feeds the CostUSD, token and Answers metrics.
    usage = UsageRecorder(state.usage, metrics.requests, flush_s=settings.usage_flush_s, clock=clock)
    budgets = Budgets(
        state.budgets,
        config.budgets,
        table,
        prices=prices,
        events=events,
        clock=clock,
        ttl_s=settings.budget_cache_ttl_s,
    )
    cache = CacheService(
        state.cache, metrics, enabled=settings.cache_enabled, default_ttl_s=settings.cache_ttl_s, clock=clock
    )
    tenants = TenantCache(state.keys, ttl_s=settings.key_cache_ttl_s, clock=clock)
    guardrails = Guardrails(config, tenants, Moderation(router), metrics.guardrails)
    builtin: list[Stage] = [
        AccessStage(),
        GuardrailStage(guardrails),
        CacheStage(cache),
        UsageStage(usage),
        KeyLimitsStage(KeyLimits(limiter, limits, metrics)),
        BudgetStage(budgets),
        GuardrailOutputStage(guardrails),
    ]
    stages = with_configured(builtin, config.pipeline.stages)
    pipeline = Pipeline(stages, router, accounting, breakers, metrics.requests, settings.request_timeout_s)
    jobs = await open_jobs(settings, state.jobs, clock=clock, webhook_transport=webhook_transport)
    signing = RequestSigning(await signing_master(settings), state.signatures, tenants, clock=clock)
    return Gateway(
        settings,
        config,
        table,
        pipeline,
        breakers,
        auth,
        client,
        state,
        metrics,
        accounting,
        usage,
        budgets,
        events,
        jobs,
        tenants,
        guardrails,
        signing,
    )
