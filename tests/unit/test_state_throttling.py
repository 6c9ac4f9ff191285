"""DynamoDB throttling is told apart from other failures at the boundary, and counted by the
budget and limit adapters (the ``BudgetWritesThrottled`` / ``LimitWritesThrottled`` metrics the
template alarms on)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from statekit import T0
from switchyard.metrics import BUDGET_WRITES_THROTTLED, LIMIT_WRITES_THROTTLED
from switchyard.metrics.sink import MetricSink
from switchyard.state.dynamodb import Table
from switchyard.state.dynamodb_budgets import DynamoBudgetStore
from switchyard.state.dynamodb_state import DynamoStateStore
from switchyard.state.ports import MINUTE, StateThrottledError, StateUnavailableError, WindowCharge


class RefusingClient:
    """A DynamoDB client whose every UpdateItem fails with ``code``."""

    def __init__(self, code: str) -> None:
        self.code = code

    def update_item(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "UpdateItem")


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
async def test_throttled_writes_are_counted_and_raised_as_throttling(code: str) -> None:
    metrics = MetricSink(publish=lambda _: None)
    table = Table(RefusingClient(code), "state")  # type: ignore[arg-type]
    budgets = DynamoBudgetStore(table, on_throttled=lambda: metrics.count(BUDGET_WRITES_THROTTLED))
    limits = DynamoStateStore(table, on_throttled=lambda: metrics.count(LIMIT_WRITES_THROTTLED))
    with pytest.raises(StateThrottledError):
        await budgets.charge("global", Decimal(1), {"d2026-11-23": Decimal(5)}, expires_at=T0)
    with pytest.raises(StateThrottledError):
        await limits.charge("key#k", [WindowCharge(MINUTE, int(T0 // 60 * 60), 1, 0, 10)])
    assert metrics.totals() == {BUDGET_WRITES_THROTTLED: 1, LIMIT_WRITES_THROTTLED: 1}


async def test_other_failures_are_unavailability_and_not_counted_as_throttling() -> None:
    metrics = MetricSink(publish=lambda _: None)
    table = Table(RefusingClient("ResourceNotFoundException"), "state")  # type: ignore[arg-type]
    budgets = DynamoBudgetStore(table, on_throttled=lambda: metrics.count(BUDGET_WRITES_THROTTLED))
    with pytest.raises(StateUnavailableError) as raised:
        await budgets.charge("global", Decimal(1), {"d2026-11-23": Decimal(5)}, expires_at=T0)
    assert not isinstance(raised.value, StateThrottledError)
    assert metrics.totals() == {}
