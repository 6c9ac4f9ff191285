"""Helpers for the shared-state tests: a settable clock, and adapters on moto's tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from switchyard.state.dynamodb import CallCounter, DynamoSettings, Table, build_client
from switchyard.state.dynamodb_cache import DynamoResponseCache
from switchyard.state.dynamodb_keys import DynamoKeyStore
from switchyard.state.dynamodb_state import DynamoStateStore
from switchyard.state.dynamodb_usage import DynamoUsageLedger

# The start of a minute and of an hour (not of a day), far from any real clock.
T0 = 1_800_000_000.0


class Clock:
    """Wall time that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class DynamoStores:
    """One instance's view of the shared tables: its own client, counter and item copies."""

    state: DynamoStateStore
    cache: DynamoResponseCache
    keys: DynamoKeyStore
    usage: DynamoUsageLedger
    calls: CallCounter
    client: Any


@contextmanager
def dynamo_stores(
    resources: Any, clock: Clock, *, refresh_s: float = 0.0, **aws: Any
) -> Iterator[DynamoStores]:
    """Adapters on ``state_tables``'s tables through a client of their own, closed on exit."""
    calls = CallCounter()
    # moto on a loaded 2-core machine can take over a second to answer: a timeout would retry a
    # non-idempotent ADD and double-count. Tests of timeouts pass their own.
    aws.setdefault("timeout_s", 10.0)
    client = build_client(
        DynamoSettings(endpoint_url=aws.pop("endpoint_url", resources.endpoint), **aws), calls
    )
    try:
        state = Table(client, resources.tables["StateTable"])
        cache = Table(client, resources.tables["CacheTable"])
        yield DynamoStores(
            DynamoStateStore(state, refresh_s=refresh_s, clock=clock),
            DynamoResponseCache(cache, clock=clock),
            DynamoKeyStore(state, clock=clock),
            DynamoUsageLedger(state),
            calls,
            client,
        )
    finally:
        client.close()


def instances[T](
    request: pytest.FixtureRequest, memory: Callable[[], T], dynamo: Callable[[Table], T]
) -> Iterator[Callable[[], T]]:
    """The body of a contract test's ``backend`` fixture, parametrized ``memory``/``dynamodb``:
    each call of what it yields is one instance's view of the shared state — the one memory
    adapter every instance shares, or a DynamoDB adapter with a client of its own on the state
    table of ``state_tables``. ``yield from instances(request, ..., ...)``."""
    if request.param == "memory":
        shared = memory()
        yield lambda: shared
        return
    resources: Any = request.getfixturevalue("state_tables")
    with ExitStack() as stack:

        def instance() -> T:
            # moto on a loaded machine can be slow: a timeout would retry a non-idempotent write.
            client = build_client(DynamoSettings(endpoint_url=resources.endpoint, timeout_s=10.0))
            stack.callback(client.close)
            return dynamo(Table(client, resources.tables["StateTable"]))

        yield instance
