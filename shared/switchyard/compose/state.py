"""The state adapters: memory for one process, DynamoDB (behind degrading wrappers) when tables
are named."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import time
from typing import Any, Literal

from switchyard.config.settings import GatewaySettings, StateAccess
from switchyard.metrics import (
    BUDGET_WRITES_THROTTLED,
    LIMIT_WRITES_THROTTLED,
    STATE_DEGRADED_BREAKERS,
    STATE_DEGRADED_CACHE,
    STATE_DEGRADED_LIMITS,
    STATE_DEGRADED_SIGNATURES,
)
from switchyard.metrics.sink import MetricSink
from switchyard.state.conversations import ConversationStore
from switchyard.state.degrading import Degradation
from switchyard.state.dynamodb import CallCounter
from switchyard.state.jobs import JobStore
from switchyard.state.memory import (
    MemoryBreakerStore,
    MemoryKeyStore,
    MemoryLimitStore,
    MemoryResponseCache,
    MemoryUsageLedger,
)
from switchyard.state.memory_budgets import MemoryBudgetStore
from switchyard.state.memory_conversations import MemoryConversationStore
from switchyard.state.memory_jobs import MemoryJobStore
from switchyard.state.memory_personas import MemoryPersonaStore
from switchyard.state.personas import PersonaStore
from switchyard.state.ports import BreakerStore, BudgetStore, KeyStore, LimitStore, ResponseCache, UsageLedger
from switchyard.state.signatures import DegradingSeenSignatures, MemorySeenSignatures, SeenSignatures


@dataclass(slots=True)
class State:
    """One gateway's state adapters, with what health checks and shutdown need."""

    backend: Literal["memory", "dynamodb"]
    breakers: BreakerStore
    limits: LimitStore
    cache: ResponseCache
    keys: KeyStore
    usage: UsageLedger
    jobs: JobStore  # async jobs' status and results
    budgets: BudgetStore  # spend against budgets
    personas: PersonaStore  # tenants' personas
    # Conversation memory: no in-memory fallback (a conversation half in one instance's memory
    # would answer differently per instance); its stage degrades to answering without it.
    conversations: ConversationStore
    # Signed requests' nonces seen, so a replayed signature is refused across instances.
    signatures: SeenSignatures
    calls: CallCounter = field(default_factory=CallCounter)  # AWS API calls, by operation
    degradations: tuple[Degradation, ...] = ()
    client: Any = None  # the boto3 client, closed with the gateway

    def summary(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "degraded": sorted(d.component for d in self.degradations if d.degraded),
            "aws_calls": self.calls.total,
        }

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def open_state(settings: GatewaySettings, metrics: MetricSink, *, clock: Callable[[], float] = time) -> State:
    """DynamoDB when the settings name a table, memory otherwise, except in Lambda, where state in
    one instance's memory would hold nothing across instances: there a missing table is a
    start-up error naming it (ValueError)."""
    if settings.lambda_function_name:
        for name, value in (("STATE_TABLE", settings.state_table), ("CACHE_TABLE", settings.cache_table)):
            if not value:
                raise ValueError(
                    f"{name} is not set for the Lambda function {settings.lambda_function_name}: "
                    "its state would live in one instance's memory"
                )
    if settings.state_table:
        return dynamo_state(settings, metrics, clock=clock)
    return memory_state(clock=clock)


def memory_state(*, clock: Callable[[], float] = time) -> State:
    keys = MemoryKeyStore(clock=clock)
    return State(
        "memory",
        MemoryBreakerStore(),
        MemoryLimitStore(),
        MemoryResponseCache(clock=clock),
        keys,
        MemoryUsageLedger(),
        MemoryJobStore(clock=clock),
        MemoryBudgetStore(clock=clock, keys=keys),
        MemoryPersonaStore(),
        MemoryConversationStore(clock=clock),
        MemorySeenSignatures(clock=clock),
    )


def dynamo_state(
    settings: GatewaySettings, metrics: MetricSink, *, clock: Callable[[], float] = time
) -> State:
    """Adapters on ``settings.state_table`` (and ``cache_table``, else a memory cache). Builds the
    boto3 client (blocking, once per cold start); makes no AWS call."""
    # Imported here: a memory-state process (and the router's cold import) never loads them.
    from switchyard.state.degrading import DegradingBreakerStore, DegradingLimitStore, DegradingResponseCache
    from switchyard.state.dynamodb import Table
    from switchyard.state.dynamodb_budgets import DynamoBudgetStore
    from switchyard.state.dynamodb_cache import DynamoResponseCache
    from switchyard.state.dynamodb_conversations import DynamoConversationStore
    from switchyard.state.dynamodb_jobs import DynamoJobStore
    from switchyard.state.dynamodb_keys import DynamoKeyStore
    from switchyard.state.dynamodb_personas import DynamoPersonaStore
    from switchyard.state.dynamodb_signatures import DynamoSeenSignatures
    from switchyard.state.dynamodb_state import DynamoStateStore
    from switchyard.state.dynamodb_usage import DynamoUsageLedger

    assert settings.state_table is not None
    calls = CallCounter()
    client = dynamo_client(settings, calls)
    table = Table(client, settings.state_table)

    def degradation(component: str, metric: str) -> Degradation:
        retry_s, log_s = settings.state_retry_s, settings.degraded_log_interval_s
        return Degradation(component, metric, metrics, retry_s=retry_s, log_interval_s=log_s)

    shared = DynamoStateStore(
        table,
        refresh_s=settings.state_refresh_s,
        clock=clock,
        on_throttled=lambda: metrics.count(LIMIT_WRITES_THROTTLED),
    )
    degraded = [
        degradation("breakers", STATE_DEGRADED_BREAKERS),
        degradation("limits", STATE_DEGRADED_LIMITS),
    ]
    fail_closed, retry_after_s = settings.limits_fail_closed, max(1.0, settings.state_retry_s)
    limits = DegradingLimitStore(
        shared, MemoryLimitStore(), degraded[1], fail_closed=fail_closed, retry_after_s=retry_after_s
    )
    cache: ResponseCache = MemoryResponseCache(clock=clock)
    if settings.cache_table:
        degraded.append(degradation("cache", STATE_DEGRADED_CACHE))
        remote = DynamoResponseCache(Table(client, settings.cache_table), clock=clock)
        cache = DegradingResponseCache(remote, cache, degraded[-1])
    breakers = DegradingBreakerStore(shared, MemoryBreakerStore(), degraded[0])
    keys, usage = DynamoKeyStore(table, clock=clock), DynamoUsageLedger(table)
    jobs = DynamoJobStore(table, clock=clock)
    budgets = DynamoBudgetStore(
        table, clock=clock, on_throttled=lambda: metrics.count(BUDGET_WRITES_THROTTLED)
    )
    degraded.append(degradation("signatures", STATE_DEGRADED_SIGNATURES))
    signatures = DegradingSeenSignatures(
        DynamoSeenSignatures(table, clock=clock), MemorySeenSignatures(clock=clock), degraded[-1]
    )
    return State(
        "dynamodb",
        breakers,
        limits,
        cache,
        keys,
        usage,
        jobs,
        budgets,
        DynamoPersonaStore(table),
        DynamoConversationStore(table, clock=clock),
        signatures,
        calls,
        tuple(degraded),
        client,
    )


def dynamo_client(settings: StateAccess, calls: CallCounter | None = None) -> Any:
    """The DynamoDB client of the state settings (timeouts, retries, endpoint); no AWS call."""
    from switchyard.state.dynamodb import DynamoSettings, build_client

    aws = DynamoSettings(
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        timeout_s=settings.state_timeout_s,
        max_attempts=settings.state_max_attempts,
    )
    return build_client(aws, calls)
