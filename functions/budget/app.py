"""Budget Lambda: EventBridge hands it the "CloudWatch Alarm State Change" events of the global
cost alarm (template.yaml: GlobalBudgetAlarm), and :class:`switchyard.budgets.alarm.BudgetFunction`
sets or clears the global budget override in the state table and announces it (EventBridge → SNS).

Its parts are built once per cold start, on the first invocation, never at import. ``make run``
drives the same :class:`BudgetFunction` with the local gateway's own store and publisher when its
emulated cost alarms change state.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchyard.budgets.alarm import BudgetFunction
from switchyard.compose import open_budget_function
from switchyard.config.settings import BudgetFunctionSettings
from switchyard.observability import logger

_function: BudgetFunction | None = None


def _get() -> BudgetFunction:
    global _function
    if _function is None:
        _function = open_budget_function(BudgetFunctionSettings.from_env())
    return _function


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Raising makes Lambda retry the event (twice), then send it to the notifications topic.
    return _get().handle(event)
