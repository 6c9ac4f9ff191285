"""Budget Lambda: EventBridge hands it the "CloudWatch Alarm State Change" events of the global
cost alarm (template.yaml: GlobalBudgetAlarm), and :func:`switchyard.budgets.alarm.on_alarm_state_change`
sets or clears the global budget override in the state table and announces it (EventBridge → SNS).

The store and the publisher are built once per cold start, on the first invocation, never at
import. ``make run`` drives :class:`BudgetFunction` with the local gateway's own store and
publisher when its emulated cost alarms change state: the same path, against local state.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchyard.budgets.alarm import AlarmOutcome, on_alarm_state_change
from switchyard.config.settings import Settings
from switchyard.eventbus import EventPublisher, publisher_for
from switchyard.observability import logger
from switchyard.state.ports import BudgetStore


@dataclass(frozen=True, slots=True)
class BudgetFunction:
    store: BudgetStore
    events: EventPublisher
    action: Literal["alert", "block", "downgrade"]

    async def apply(self, event: dict[str, Any]) -> AlarmOutcome:
        """Raises ValueError for an event that is not an alarm state change."""
        outcome = await on_alarm_state_change(event, self.store, self.events, action=self.action)
        logger.info("budget alarm applied", extra=asdict(outcome))
        return outcome

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return asdict(asyncio.run(self.apply(event)))


def build(settings: Settings) -> BudgetFunction:
    """The state table's budget store and the event bus. Raises ValueError without a state table
    (an override kept in this instance's memory would reach no router) and, in Lambda, without a
    bus."""
    from switchyard.state.dynamodb import Table
    from switchyard.state.dynamodb_budgets import DynamoBudgetStore
    from switchyard.state.factory import dynamo_client

    if not settings.state_table:
        raise ValueError("STATE_TABLE is not set")
    store = DynamoBudgetStore(Table(dynamo_client(settings), settings.state_table))
    events = publisher_for(settings)
    return BudgetFunction(store, events, settings.budget_action or "alert")


_function: BudgetFunction | None = None


def _get() -> BudgetFunction:
    global _function
    if _function is None:
        _function = build(Settings.from_env())
    return _function


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raising makes Lambda retry the event (twice), then send it to the notifications topic.
    return _get().handle(event)
