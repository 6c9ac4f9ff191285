"""What the budget function does when a cost alarm changes state.

A "CloudWatch Alarm State Change" event for one of the global cost alarms arrives through the
EventBridge rule in template.yaml. Into ALARM with an action of ``block`` or ``downgrade``: the
action is set as the override every router reads (within its warm-cache TTL), and a
``Switchyard Budget Action`` event tells people (EventBridge → SNS). With ``alert`` (the default)
nothing is set: the alarm itself notifies the topic. Back to OK: the override is cleared, and people
are told if one was set. Other states (INSUFFICIENT_DATA) change nothing: missing cost data is not a
reason to unblock spending, nor to block it.

EventBridge delivers at least once and Lambda retries failed invocations, so an event may come
twice or after a newer one (an ALARM retried after the OK that followed it). The override records
the alarm's state-change time and the store refuses an older or equal one: such an event changes
nothing and announces nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from time import time
from typing import Any, Literal

from switchyard.events import BUDGET_ACTION, EventPublisher
from switchyard.observability import logger
from switchyard.state.ports import BudgetOverride, BudgetStore

Action = Literal["alert", "block", "downgrade"]


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    alarm: str
    state: str
    # "stale": an older or repeated state change than the one recorded, so nothing was done.
    applied: Literal["set", "cleared", "ignored", "stale"]
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
    changed_at = state_changed_at(event)
    if state == "ALARM":
        if action == "alert":
            return AlarmOutcome(alarm, state, "ignored", action)  # the alarm notifies by itself
        if not await store.set_override(BudgetOverride(action, alarm, clock()), changed_at=changed_at):
            return AlarmOutcome(alarm, state, "stale", action)
        await events.publish(
            BUDGET_ACTION,
            {"scope": "global", "alarm": alarm, "action": action, "state": state, "reason": reason},
        )
        return AlarmOutcome(alarm, state, "set", action)
    if state == "OK":
        current = await store.override()
        if not await store.set_override(None, changed_at=changed_at):
            return AlarmOutcome(alarm, state, "stale")
        if current is not None:
            await events.publish(
                BUDGET_ACTION,
                {"scope": "global", "alarm": alarm, "action": "none", "state": state, "reason": reason},
            )
        return AlarmOutcome(alarm, state, "cleared")
    return AlarmOutcome(alarm, state, "ignored")


def state_changed_at(event: Mapping[str, Any]) -> float:
    """When the alarm changed state (epoch seconds): the state's own millisecond timestamp, else
    the event's time. Raises ValueError when neither is a timestamp."""
    detail = event.get("detail") or {}
    for raw in ((detail.get("state") or {}).get("timestamp"), event.get("time")):
        if isinstance(raw, str) and raw:
            try:
                # CloudWatch writes "2026-11-23T14:05:00.264+0000", EventBridge "…T14:05:00Z".
                stamp = datetime.fromisoformat(raw)
            except ValueError:
                continue
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    raise ValueError("alarm state change without a timestamp")


@dataclass(frozen=True, slots=True)
class BudgetFunction:
    """The budget Lambda (and ``make run``'s emulated alarms): applies one alarm event."""

    store: BudgetStore
    events: EventPublisher
    action: Action

    async def apply(self, event: Mapping[str, Any]) -> AlarmOutcome:
        """Raises ValueError for an event that is not an alarm state change."""
        outcome = await on_alarm_state_change(event, self.store, self.events, action=self.action)
        logger.info("budget alarm applied", extra=asdict(outcome))
        return outcome

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return asdict(asyncio.run(self.apply(event)))
