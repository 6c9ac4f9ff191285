"""Counter writes are applied once when botocore sends them twice (DESIGN §4, docs/state.md).

A timeout after DynamoDB applied a write makes botocore's retry send the same request again.
Here botocore itself is made to retry every first try of an UpdateItem *after* it was applied
(a ``needs-retry`` handler that asks for a retry whatever the answer), against the template's
table on moto: the budget counter, the units a limit lease gives back and the threshold notice must
each count the write once, and the caller must see it as applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from statekit import T0, Clock
from switchyard.state.dynamodb import CallCounter, DynamoSettings, Table, build_client
from switchyard.state.dynamodb_budgets import DynamoBudgetStore
from switchyard.state.dynamodb_state import DynamoStateStore
from switchyard.state.ports import MINUTE, WindowCharge

DAY = "d2026-11-23"


@contextmanager
def replaying_table(resources: Any) -> Iterator[tuple[Table, list[int]]]:
    """A table whose client sends every UpdateItem twice: the first try is applied and its answer
    thrown away, as after a read timeout. Yields the table and the count of replays."""
    client = build_client(DynamoSettings(endpoint_url=resources.endpoint, max_attempts=2), CallCounter())
    replays: list[int] = []

    def replay_first_try(attempts: int, **_: Any) -> float | None:
        if attempts == 1:
            replays.append(1)
            return 0.0  # retry now
        return None

    client.meta.events.register_first("needs-retry.dynamodb.UpdateItem", replay_first_try)
    try:
        yield Table(client, resources.tables["StateTable"]), replays
    finally:
        client.close()


def fresh_table(resources: Any) -> Table:
    """The same table through a client of its own (no replays, no item copies)."""
    client = build_client(DynamoSettings(endpoint_url=resources.endpoint))
    return Table(client, resources.tables["StateTable"])


async def test_a_replayed_budget_charge_is_counted_once(state_tables: Any) -> None:
    with replaying_table(state_tables) as (table, replays):
        store = DynamoBudgetStore(table, clock=Clock())
        first = await store.charge("global", Decimal("0.25"), {DAY: Decimal("1")}, expires_at=T0 + 86400)
        second = await store.charge(
            "global", Decimal("0.5"), {DAY: Decimal("1")}, expires_at=T0 + 86400, shard=3
        )
        assert len(replays) == 2
    assert first.applied and first.spent == {DAY: Decimal("0.25")}
    assert second.applied and second.spent == {DAY: Decimal("0.5")}
    reader = DynamoBudgetStore(fresh_table(state_tables))
    assert await reader.spent("global", shards=4) == {DAY: Decimal("0.75")}


async def test_a_replayed_hand_back_of_lease_units_is_applied_once(state_tables: Any) -> None:
    """Units given back twice would admit past the limit; a lease charged twice only under-admits
    (by one lease, docs/state.md), so only charges that give back carry a token."""
    start = int(T0 // MINUTE * MINUTE)
    plain = DynamoStateStore(fresh_table(state_tables), clock=Clock())
    assert (await plain.charge("key#k", [WindowCharge(MINUTE, start, 12, 0, 100)])).applied
    with replaying_table(state_tables) as (table, replays):
        store = DynamoStateStore(table, clock=Clock())
        back = await store.charge("key#k", [WindowCharge(MINUTE, start, -4, 0, 100)])
        assert replays  # (a first try on this store's empty copy fails its condition, then the ADD)
    assert back.applied and back.state.windows[MINUTE].requests == 8
    assert (await DynamoStateStore(fresh_table(state_tables)).read("key#k")).windows[MINUTE].requests == 8


async def test_a_replayed_notice_claim_is_still_ours(state_tables: Any) -> None:
    with replaying_table(state_tables) as (table, replays):
        store = DynamoBudgetStore(table, clock=Clock())
        assert await store.claim_notice("global", f"{DAY}#80", expires_at=T0 + 60)
        assert replays == [1]
        assert not await store.claim_notice("global", f"{DAY}#80", expires_at=T0 + 60)
