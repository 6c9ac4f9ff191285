"""Building the state adapters: memory for one process, DynamoDB (behind degrading wrappers) when
tables are named. The composition root (:mod:`switchyard.gateway`) chooses between the two."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import time
from typing import Any, Literal

from switchyard.config.settings import Settings
from switchyard.metrics import (
    STATE_DEGRADED_BREAKERS,
    STATE_DEGRADED_CACHE,
    STATE_DEGRADED_LIMITS,
    STATE_DEGRADED_SIGNATURES,
)
from switchyard.metrics.sink import MetricSink
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
from switchyard.state.memory_jobs import MemoryJobStore
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
    calls: CallCounter = field(default_factory=CallCounter)  # AWS API calls, by operation
    degradations: tuple[Degradation, ...] = ()
    client: Any = None  # the boto3 client, closed with the gateway
    jobs: JobStore = field(default_factory=MemoryJobStore)  # async jobs' status and results
    budgets: BudgetStore = field(default_factory=MemoryBudgetStore)  # spend against budgets
    # Signed requests' replay protection: signatures seen within their window.
    signatures: SeenSignatures = field(default_factory=MemorySeenSignatures)

    def summary(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "degraded": sorted(d.component for d in self.degradations if d.degraded),
            "aws_calls": self.calls.total,
        }

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def memory_state(*, clock: Callable[[], float] = time) -> State:
    keys = MemoryKeyStore(clock=clock)
    return State(
        "memory",
        MemoryBreakerStore(),
        MemoryLimitStore(),
        MemoryResponseCache(clock=clock),
        keys,
        MemoryUsageLedger(),
        jobs=MemoryJobStore(clock=clock),
        budgets=MemoryBudgetStore(clock=clock, keys=keys),
        signatures=MemorySeenSignatures(clock=clock),
    )


def dynamo_state(settings: Settings, metrics: MetricSink, *, clock: Callable[[], float] = time) -> State:
    """Adapters on ``settings.state_table`` (and ``cache_table``, else a memory cache). Builds the
    boto3 client (blocking, once per cold start); makes no AWS call."""
    # Imported here: a memory-state process (and the router's cold import) never loads them.
    from switchyard.state.degrading import DegradingBreakerStore, DegradingLimitStore, DegradingResponseCache
    from switchyard.state.dynamodb import Table
    from switchyard.state.dynamodb_budgets import DynamoBudgetStore
    from switchyard.state.dynamodb_cache import DynamoResponseCache
    from switchyard.state.dynamodb_jobs import DynamoJobStore
    from switchyard.state.dynamodb_keys import DynamoKeyStore, DynamoUsageLedger
    from switchyard.state.dynamodb_signatures import DynamoSeenSignatures
    from switchyard.state.dynamodb_state import DynamoStateStore

    assert settings.state_table is not None
    calls = CallCounter()
    client = dynamo_client(settings, calls)
    table = Table(client, settings.state_table)

    def degradation(component: str, metric: str) -> Degradation:
        retry_s, log_s = settings.state_retry_s, settings.degraded_log_interval_s
        return Degradation(component, metric, metrics, retry_s=retry_s, log_interval_s=log_s)

    shared = DynamoStateStore(table, refresh_s=settings.state_refresh_s, clock=clock)
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
    budgets = DynamoBudgetStore(table, clock=clock)
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
        calls,
        tuple(degraded),
        client,
        jobs,
        budgets,
        signatures,
    )


def dynamo_client(settings: Settings, calls: CallCounter | None = None) -> Any:
    """The DynamoDB client of the state settings (timeouts, retries, endpoint); no AWS call."""
    from switchyard.state.dynamodb import DynamoSettings, build_client

    aws = DynamoSettings(
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        timeout_s=settings.state_timeout_s,
        max_attempts=settings.state_max_attempts,
    )
    return build_client(aws, calls)
