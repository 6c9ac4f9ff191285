"""The cost alarms of template.yaml, emulated under ``make run``, driving the budget function.

In AWS, CloudWatch sums the CostUSD metric over each cost alarm's period (a sliding window), the
composite GlobalBudgetAlarm is in ALARM while any of them is, and its state changes reach the
budget function through EventBridge. Here :class:`CostAlarmWatch` does the same in process: it
samples the gateway's running CostUSD total every few seconds into per-minute buckets, evaluates
each alarm's window against its threshold (the template's parameter defaults, or
``SWITCHYARD_LOCAL_DAILY_BUDGET_USD`` / ``SWITCHYARD_LOCAL_HOURLY_BUDGET_USD``), and on every
change of the composite state builds the same "CloudWatch Alarm State Change" event and hands it
to the budget function's own code (functions/budget/app.py), with the local gateway's state store
and event publisher. So the global override lands where the local routers read it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import operator
import re
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import time
from typing import TYPE_CHECKING, Any

import switchyard
from switchyard.config.local import LocalSettings
from switchyard.local.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    TemplateError,
    composite_alarms,
    metric_alarms,
    parameter_default,
)
from switchyard.metrics import COST_USD
from switchyard.observability import logger

if TYPE_CHECKING:
    from starlette.applications import Starlette

# A checkout's (pip install -e .): the template and the budget function's handler.
ROOT = Path(switchyard.__file__).resolve().parents[2]
BUDGET_FUNCTION = ROOT / "functions" / "budget" / "app.py"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
}
_ALARM_REF = re.compile(r'ALARM\("?([^")]+)"?\)')


@dataclass(frozen=True)
class CostAlarm:
    name: str
    period_s: int
    threshold: float
    comparison: str

    def breaching(self, spent: float) -> bool:
        return _COMPARE[self.comparison](spent, self.threshold)


@dataclass(frozen=True)
class BudgetAlarms:
    """The composite alarm the budget function acts on, its cost alarms, and the action."""

    composite: str
    alarms: tuple[CostAlarm, ...]
    action: str


def budget_alarms(template: dict[str, Any], settings: LocalSettings) -> BudgetAlarms:
    """Read from the template; thresholds overridden by the settings' local budgets. Raises
    TemplateError when the template has no composite alarm over CostUSD alarms."""
    overrides = {
        "GlobalDailyBudgetUSD": settings.local_daily_budget_usd,
        "GlobalHourlySpikeUSD": settings.local_hourly_budget_usd,
    }
    alarms = {}
    for alarm in metric_alarms(template, COST_USD):
        if alarm.comparison not in _COMPARE or alarm.statistic != "Sum":
            raise TemplateError(f"{alarm.logical_id}: a local cost alarm sums and compares upwards")
        override = overrides.get(alarm.threshold_parameter or "")
        threshold = alarm.threshold if override is None else override
        alarms[alarm.name] = CostAlarm(alarm.name, alarm.period_s, threshold, alarm.comparison)
    for name, rule in composite_alarms(template).items():
        members = _ALARM_REF.findall(rule)
        if members and set(members) <= set(alarms):
            action = settings.budget_action or str(parameter_default(template, "GlobalBudgetAction"))
            return BudgetAlarms(name, tuple(alarms[m] for m in members), action)
    raise TemplateError("no composite alarm over the CostUSD alarms")


def alarm_event(
    name: str, state: str, previous: str, reason: str, now: float, *, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event as EventBridge delivers it (events/alarm-*.json)."""
    stamp = datetime.fromtimestamp(now, UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": ALARM_STATE_CHANGE,
        "source": "aws.cloudwatch",
        "account": DEFAULT_ACCOUNT_ID,
        "time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:cloudwatch:{region}:{DEFAULT_ACCOUNT_ID}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": reason,
                "timestamp": stamp.isoformat(timespec="milliseconds"),
            },
            "previousState": {"value": previous},
        },
    }


class CostAlarmWatch:
    """Per-minute CostUSD buckets for the longest alarm period, evaluated on :meth:`check`."""

    def __init__(
        self,
        alarms: BudgetAlarms,
        spent_total: Callable[[], float],
        apply: Callable[[dict[str, Any]], Awaitable[Any]],
        *,
        clock: Callable[[], float] = time,
    ) -> None:
        self.alarms = alarms
        self._spent_total = spent_total
        self._apply = apply
        self._clock = clock
        self._seen = spent_total()
        self._buckets: deque[list[float]] = deque()  # [minute, spend], oldest first
        self._horizon_s = max(a.period_s for a in alarms.alarms)
        self.state = "OK"  # nothing spent yet; the routers start without an override

    async def check(self) -> None:
        now = self._clock()
        total = self._spent_total()
        spent, self._seen = total - self._seen, total
        minute = now // 60
        if spent:
            if self._buckets and self._buckets[-1][0] == minute:
                self._buckets[-1][1] += spent
            else:
                self._buckets.append([minute, spent])
        while self._buckets and (self._buckets[0][0] + 1) * 60 <= now - self._horizon_s:
            self._buckets.popleft()
        over = [a for a in self.alarms.alarms if a.breaching(self._window(a.period_s, now))]
        state = "ALARM" if over else "OK"
        if state == self.state:
            return
        reason = (
            "; ".join(f"{a.name}: CostUSD over {a.period_s} s reached {a.threshold}" for a in over)
            or "every cost alarm is under its threshold"
        )
        event = alarm_event(self.alarms.composite, state, self.state, reason, now)
        logger.info("local cost alarm", extra={"alarm": self.alarms.composite, "state": state})
        await self._apply(event)
        self.state = state  # not before: a failed hand-over is tried again on the next check

    async def run(self, interval_s: float = 2.0) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                logger.exception("local budget function failed")
            await asyncio.sleep(interval_s)

    def _window(self, period_s: int, now: float) -> float:
        # Buckets whose minute overlaps the window; CloudWatch's resolution is a minute as well.
        return sum(spend for minute, spend in self._buckets if (minute + 1) * 60 > now - period_s)


def load_budget_function(path: Path) -> Any:
    """functions/budget/app.py, loaded by path as Lambda (and ``sam local invoke``) loads it."""
    spec = importlib.util.spec_from_file_location("switchyard_budget_function", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the budget function from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses resolve the module's (string) annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def with_cost_alarms(
    app: Starlette,
    settings: LocalSettings,
    template: dict[str, Any],
    function_path: Path,
    *,
    other_spend: Callable[[], float] = lambda: 0.0,
) -> BudgetAlarms:
    """Run a :class:`CostAlarmWatch` for as long as ``app``'s lifespan, against the spend of the
    gateway it opens plus ``other_spend`` (the local jobs worker's: in AWS both emit CostUSD).
    Raises TemplateError (no cost alarms), ImportError (no budget function)."""
    alarms = budget_alarms(template, settings)
    module = load_budget_function(function_path)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            gateway = application.state.gateway
            function = module.BudgetFunction(gateway.state.budgets, gateway.events, alarms.action)
            watch = CostAlarmWatch(
                alarms, lambda: gateway.metrics.requests.cost_total_usd + other_spend(), function.apply
            )
            task = asyncio.create_task(watch.run())
            try:
                yield state
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return alarms


def describe(alarms: BudgetAlarms) -> str:
    limits = ", ".join(f"${a.threshold:g} per {_span(a.period_s)}" for a in alarms.alarms)
    return f"{alarms.action} at {limits} (global cost alarms, emulated)"


def _span(seconds: int) -> str:
    return {3600: "hour", 86400: "24 h"}.get(seconds, f"{seconds} s")
