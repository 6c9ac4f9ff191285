"""The ``BudgetStore`` contract over the memory adapter and the DynamoDB one on moto (the table of
template.yaml): caps that hold under concurrent charges, notices claimed once, the override."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import pytest

from statekit import T0, Clock
from switchyard.state.dynamodb import DynamoSettings, Table, build_client
from switchyard.state.dynamodb_budgets import DynamoBudgetStore
from switchyard.state.dynamodb_keys import DynamoKeyStore
from switchyard.state.memory import MemoryKeyStore
from switchyard.state.memory_budgets import MemoryBudgetStore
from switchyard.state.ports import BudgetOverride, BudgetStore, KeyStore, TenantRecord

Backend = Callable[[], BudgetStore]
D = Decimal
DAY, MONTH = "d2026-11-23", "m2026-11"
CAPS = {DAY: D("1"), MONTH: D("10")}
LATER = T0 + 86400


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "dynamodb"])
def stores(
    request: pytest.FixtureRequest, clock: Clock
) -> Iterator[Callable[[], tuple[BudgetStore, KeyStore]]]:
    """An instance's budget store and the key store where tenants live (the same table)."""
    if request.param == "memory":
        keys = MemoryKeyStore(clock=clock)
        shared = MemoryBudgetStore(clock=clock, keys=keys)
        yield lambda: (shared, keys)
        return
    resources: Any = request.getfixturevalue("state_tables")
    with ExitStack() as stack:

        def instance() -> tuple[BudgetStore, KeyStore]:
            client = build_client(DynamoSettings(endpoint_url=resources.endpoint))
            stack.callback(client.close)
            table = Table(client, resources.tables["StateTable"])
            return DynamoBudgetStore(table, clock=clock), DynamoKeyStore(table, clock=clock)

        yield instance


@pytest.fixture
def backend(stores: Callable[[], tuple[BudgetStore, KeyStore]]) -> Backend:
    return lambda: stores()[0]


async def test_charges_add_to_every_period_within_the_caps(backend: Backend) -> None:
    first = await backend().charge("key#k1", D("0.4"), CAPS, expires_at=LATER)
    assert first.applied and first.spent == {DAY: D("0.4"), MONTH: D("0.4")}
    second = await backend().charge("key#k1", D("0.6"), CAPS, expires_at=LATER)
    assert second.applied and second.spent[DAY] == D("1.0")
    refused = await backend().charge("key#k1", D("0.000001"), CAPS, expires_at=LATER)
    assert not refused.applied and refused.spent == {DAY: D("1.0"), MONTH: D("1.0")}
    # Giving back always applies, and so does a charge without caps (spend over a downgrade budget).
    back = await backend().charge("key#k1", D("-0.25"), CAPS, expires_at=LATER)
    assert back.applied and back.spent[DAY] == D("0.75")
    over = await backend().charge("key#k1", D("5"), dict.fromkeys(CAPS), expires_at=LATER)
    assert over.applied and over.spent == {DAY: D("5.75"), MONTH: D("5.75")}


async def test_spent_reads_the_counters(backend: Backend) -> None:
    assert await backend().spent("tenant#none") == {}
    await backend().charge("tenant#acme", D("0.5"), CAPS, expires_at=LATER, drop=[])
    assert await backend().spent("tenant#acme") == {DAY: D("0.5"), MONTH: D("0.5")}


async def test_an_amount_over_a_cap_is_refused_on_an_empty_scope(backend: Backend) -> None:
    assert not (await backend().charge("key#k2", D("2"), CAPS, expires_at=LATER)).applied
    assert (await backend().charge("key#k2", D("1"), CAPS, expires_at=LATER)).applied


async def test_scopes_are_separate_and_past_periods_are_dropped(backend: Backend) -> None:
    await backend().charge("key#a", D("1"), {"d2026-11-22": None}, expires_at=LATER)
    await backend().charge("key#b", D("3"), {DAY: None}, expires_at=LATER)
    moved = await backend().charge("key#a", D("0.5"), {DAY: D("1")}, expires_at=LATER, drop=["d2026-11-22"])
    assert moved.applied and moved.spent == {DAY: D("0.5")}


async def test_concurrent_charges_never_pass_a_cap(backend: Backend) -> None:
    stores = [backend() for _ in range(4)]
    results = await asyncio.gather(
        *(stores[i % 4].charge("global", D("0.03"), {DAY: D("1")}, expires_at=LATER) for i in range(60))
    )
    assert sum(r.applied for r in results) == 33  # 33 x 0.03 = 0.99; a 34th would pass 1
    final = await backend().charge("global", D("0"), {DAY: D("1")}, expires_at=LATER)
    assert final.spent[DAY] == D("0.99")


async def test_a_notice_is_claimed_once_until_it_expires(backend: Backend, clock: Clock) -> None:
    claims = await asyncio.gather(
        *(backend().claim_notice("tenant#acme", f"{DAY}#80", expires_at=T0 + 60) for _ in range(5))
    )
    assert sorted(claims) == [False] * 4 + [True]
    assert await backend().claim_notice("tenant#acme", f"{DAY}#90", expires_at=T0 + 60)
    assert await backend().claim_notice("tenant#beta", f"{DAY}#80", expires_at=T0 + 60)
    clock.advance(60)
    assert await backend().claim_notice("tenant#acme", f"{DAY}#80", expires_at=T0 + 120)


async def test_the_override_is_set_read_by_others_and_cleared(backend: Backend, clock: Clock) -> None:
    assert await backend().override() is None
    blocking = BudgetOverride("block", "switchyard-cost-daily", T0)
    assert await backend().set_override(blocking, changed_at=T0)
    assert await backend().override() == blocking
    assert await backend().set_override(None, changed_at=T0 + 1)
    assert await backend().override() is None
    timed = BudgetOverride("downgrade", "manual", T0, until=T0 + 30)
    assert await backend().set_override(timed, changed_at=T0 + 2)
    assert await backend().override() == timed
    clock.advance(30)
    assert await backend().override() is None


async def test_an_older_or_repeated_change_of_the_override_is_refused(backend: Backend) -> None:
    """Alarm events in the wrong order (a retried ALARM after its OK) or twice: whichever instance
    applies them, only a change newer than the recorded one lands."""
    blocking = BudgetOverride("block", "switchyard-global-budget", T0)
    assert await backend().set_override(blocking, changed_at=T0 + 10)
    assert not await backend().set_override(blocking, changed_at=T0 + 10)  # the same event again
    assert not await backend().set_override(None, changed_at=T0 + 5)  # an OK from before it
    assert await backend().override() == blocking
    assert await backend().set_override(None, changed_at=T0 + 20)
    late_alarm = BudgetOverride("block", "switchyard-global-budget", T0 + 30)
    assert not await backend().set_override(late_alarm, changed_at=T0 + 10)  # retried after its OK
    assert await backend().override() is None
    racing = await asyncio.gather(*(backend().set_override(blocking, changed_at=T0 + 40) for _ in range(4)))
    assert sorted(racing) == [False, False, False, True]


async def test_the_context_reads_the_override_and_a_tenant_together(
    stores: Callable[[], tuple[BudgetStore, KeyStore]],
) -> None:
    budgets, keys = stores()
    assert await budgets.context("acme") == (None, None)
    acme = TenantRecord("acme", budgets={"weekly": D("50")}, budget_action="downgrade")
    await keys.put_tenant(acme)
    blocking = BudgetOverride("block", "switchyard-cost-daily", T0)
    await budgets.set_override(blocking, changed_at=T0)
    other, _ = stores()
    assert await other.context("acme") == (blocking, acme)
    assert await other.context("beta") == (blocking, None)


async def test_shards_are_separate_counters_and_reads_sum_them(backend: Backend) -> None:
    share = {DAY: D("1")}  # each shard's cap
    for shard, amount in ((0, "0.75"), (1, "0.5"), (3, "1")):
        assert (await backend().charge("global", D(amount), share, expires_at=LATER, shard=shard)).applied
    full = await backend().charge("global", D("0.5"), share, expires_at=LATER, shard=0)
    assert not full.applied and full.spent == {DAY: D("0.75")}  # the shard's own counters
    assert await backend().shard_spent("global", 4) == [{DAY: D("0.75")}, {DAY: D("0.5")}, {}, {DAY: D("1")}]
    assert await backend().spent("global", shards=4) == {DAY: D("2.25")}
    assert await backend().spent("global") == {DAY: D("0.75")}  # one shard: the unsharded item
