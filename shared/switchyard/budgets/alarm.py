"""What the budget function does when a cost alarm changes state (DESIGN §5).

A "CloudWatch Alarm State Change" event for one of the global cost alarms arrives through the
EventBridge rule in template.yaml. Into ALARM: the configured global action (block or downgrade)
is set as the override every router reads (within its warm-cache TTL), and a
``Switchyard Budget Action`` event tells people (EventBridge → SNS). Back to OK: the override is
cleared, and people are told that too. Other states (INSUFFICIENT_DATA) change nothing: missing
cost data is not a reason to unblock spending, nor to block it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import time
from typing import Any, Literal

from switchyard.eventbus import BUDGET_ACTION, EventPublisher
from switchyard.state.ports import BudgetOverride, BudgetStore

Action = Literal["block", "downgrade"]


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    alarm: str
    state: str
    applied: Literal["set", "cleared", "ignored"]
    action: Action | None = None


async def on_alarm_state_change(
    event: Mapping[str, Any],
    store: BudgetStore,
    events: EventPublisher,
    *,
    action: Action,
    clock: Callable[[], float] = time,
) -> AlarmOutcome:
    """Apply one alarm event. Raises ValueError for an event that is not an alarm state change
    (the handler reports it; the rule in the template never sends one)."""
    if event.get("detail-type") != "CloudWatch Alarm State Change":
        raise ValueError(f"not an alarm state change: {event.get('detail-type')!r}")
    detail = event.get("detail") or {}
    alarm = str(detail.get("alarmName") or "")
    state = str((detail.get("state") or {}).get("value") or "")
    reason = str((detail.get("state") or {}).get("reason") or "")[:500]
    if not alarm:
        raise ValueError("alarm state change without an alarm name")
    if state == "ALARM":
        await store.set_override(BudgetOverride(action, alarm, clock()))
        await events.publish(
            BUDGET_ACTION,
            {"scope": "global", "alarm": alarm, "action": action, "state": state, "reason": reason},
        )
        return AlarmOutcome(alarm, state, "set", action)
    if state == "OK":
        current = await store.override()
        await store.set_override(None)
        if current is not None:
            await events.publish(
                BUDGET_ACTION,
                {"scope": "global", "alarm": alarm, "action": "none", "state": state, "reason": reason},
            )
        return AlarmOutcome(alarm, state, "cleared")
    return AlarmOutcome(alarm, state, "ignored")
