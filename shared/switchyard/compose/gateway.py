"""The gateway of the router and the worker: every part, built from settings once per cold
start, with the request pipeline's stages in their order.

Handlers and the HTTP layer receive a ready :class:`Gateway`; the adapters it is built on are
chosen by the sibling modules of this package (state, events, jobs, secrets).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from time import time

import httpx

from switchyard.accounting import Accounting
from switchyard.budgets.service import Budgets
from switchyard.cache.service import CacheService
from switchyard.compose.events import publisher_for
from switchyard.compose.jobs import open_jobs
from switchyard.compose.secrets import open_master_key, signing_master
from switchyard.compose.state import State, open_state
from switchyard.config.prices import load_prices
from switchyard.config.routing import RoutingConfig, load_routing_config
from switchyard.config.settings import GatewaySettings
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
from switchyard.core.stages.last_resort import LastResortStage
from switchyard.core.stages.memory import MemoryStage
from switchyard.core.stages.persona import PersonaStage
from switchyard.core.summarize import Summarizer
from switchyard.events import EventPublisher
from switchyard.guardrails import Guardrails, Moderation
from switchyard.jobs.service import JobsService
from switchyard.keys.auth import ClientAuth
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.keys.signatures import RequestSigning
from switchyard.keys.tenants import TenantCache
from switchyard.limits.enforce import DeploymentLimits, KeyLimits
from switchyard.limits.limiter import Limiter
from switchyard.memory import ConversationMemory
from switchyard.metrics.sink import MetricSink
from switchyard.personas import Personas
from switchyard.providers.http import Upstream, build_client
from switchyard.providers.registry import build_providers
from switchyard.routing.attempt import Router
from switchyard.routing.breaker import Breakers
from switchyard.routing.select import RouteTable
from switchyard.usage.recorder import UsageRecorder

# A conversation's summary is a short answer from a cheap model: it gets this long at most.
_SUMMARY_TIMEOUT_S = 30.0


@dataclass(slots=True)
class Gateway:
    settings: GatewaySettings
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
    cache: CacheService  # the response cache (its statistics and purges: /admin/cache)
    # Operational events (provider key rejected, budget thresholds): EventBridge or memory.
    events: EventPublisher
    jobs: JobsService  # async jobs (submission, results, webhooks)
    personas: Personas  # tenants' personas, through a warm cache
    memory: ConversationMemory  # conversations' remembered turns
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
    settings: GatewaySettings,
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
    master = await open_master_key(settings, clock=clock)  # re-read from its secret on a TTL
    prices = load_prices(settings.prices_path)  # ValueError naming the file: fail at cold start
    events = publisher_for(settings)  # ValueError in Lambda without a bus
    client = build_client(transport)
    table = RouteTable(config)
    metrics = MetricSink(namespace=settings.metrics_namespace, service=settings.service_name)
    state = open_state(settings, metrics, clock=clock)  # ValueError in Lambda without its tables
    breakers = Breakers(state.breakers, config.breaker, clock, on_open=metrics.requests.breaker_opened)
    # One limiter (one set of leases) for the key limits of the pipeline and the deployment
    # limits of the attempt loop.
    limits = config.limits
    limiter = Limiter(
        state.limits,
        lease_fraction=limits.lease_fraction,
        lease_horizon_s=limits.lease_horizon_s,
        slot_ttl_s=limits.slot_ttl_s,
        clock=clock,
    )
    keys = ProviderKeys(config, settings.environment, max_age_s=settings.secrets_max_age_s)
    router = Router(
        table,
        build_providers(config, client, environment=settings.environment),
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
        fail_closed=settings.budgets_fail_closed,
    )
    # Entries are kept past their TTL as long as the longest stale-if-error rule needs them.
    stale_keep_s = max(config.last_resort.max_stale_s, settings.cache_stale_keep_s)
    cache = CacheService(
        state.cache,
        metrics,
        enabled=settings.cache_enabled,
        default_ttl_s=settings.cache_ttl_s,
        purge_refresh_s=settings.cache_purge_refresh_s,
        stale_keep_s=stale_keep_s,
        clock=clock,
    )
    personas = Personas(state.personas, ttl_s=settings.persona_cache_ttl_s, clock=clock)
    memory = ConversationMemory(
        state.conversations, metrics, fail_closed=settings.memory_fail_closed, clock=clock
    )
    summarizer = Summarizer(
        router, accounting, usage, budgets, timeout_s=min(settings.request_timeout_s, _SUMMARY_TIMEOUT_S)
    )
    tenants = TenantCache(state.keys, ttl_s=settings.key_cache_ttl_s, clock=clock)
    guardrails = Guardrails(config, tenants, Moderation(router), metrics.guardrails)
    builtin: list[Stage] = [
        PersonaStage(personas, clock=clock),
        MemoryStage(memory, config.memory, summarizer),
        AccessStage(),
        GuardrailStage(guardrails),
        CacheStage(cache, usage),
        LastResortStage(config.last_resort, cache, metrics),
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
        cache,
        events,
        jobs,
        personas,
        memory,
        tenants,
        guardrails,
        signing,
    )
