"""``make run``'s cost alarms (switchyard.local.budget): the template's CostUSD alarms evaluated
over the gateway's spend, and the budget function driven with the local state on every change of
the composite alarm, as EventBridge drives it in AWS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import running
from fakes import MASTER_KEY
from statekit import Clock
from switchyard.config.local import LocalSettings
from switchyard.events import BUDGET_ACTION, MemoryPublisher
from switchyard.http.app import create_app
from switchyard.local.budget import BudgetAlarms, CostAlarm, CostAlarmWatch, alarm_event, budget_alarms
from switchyard.local.runtime import _cost_alarms
from switchyard.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DAY, HOUR = 86400, 3600


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_the_alarms_come_from_the_template(template: dict[str, Any]) -> None:
    alarms = budget_alarms(template, LocalSettings())
    assert alarms.composite == "switchyard-global-budget"
    assert alarms.action == "alert"  # GlobalBudgetAction's default: a fresh stack refuses nothing
    assert {(a.name, a.period_s, a.threshold) for a in alarms.alarms} == {
        ("switchyard-daily-cost", DAY, 100.0),
        ("switchyard-hourly-cost-spike", HOUR, 25.0),
    }


def test_local_budgets_and_action_override_the_defaults(template: dict[str, Any]) -> None:
    settings = LocalSettings.from_env(
        {
            "SWITCHYARD_LOCAL_DAILY_BUDGET_USD": "0.5",
            "SWITCHYARD_LOCAL_HOURLY_BUDGET_USD": "0.1",
            "BUDGET_ACTION": "downgrade",
        }
    )
    alarms = budget_alarms(template, settings)
    assert {a.period_s: a.threshold for a in alarms.alarms} == {DAY: 0.5, HOUR: 0.1}
    assert alarms.action == "downgrade"


def test_the_local_event_has_the_shape_of_the_samples() -> None:
    built = alarm_event("switchyard-global-budget", "ALARM", "OK", "spent", 1_790_000_000)
    for path in sorted((ROOT / "events").glob("alarm-*.json")):
        sample = json.loads(path.read_text(encoding="utf-8"))
        assert set(built) == set(sample), path.name
        assert set(built["detail"]) <= set(sample["detail"]) and set(built["detail"]["state"]) <= set(
            sample["detail"]["state"]
        )
        assert (built["source"], built["detail-type"], built["resources"]) == (
            sample["source"],
            sample["detail-type"],
            sample["resources"],
        )


class Spend:
    def __init__(self) -> None:
        self.total = 0.0
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def __call__(self) -> float:
        return self.total

    async def apply(self, event: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("budget function down")
        self.events.append(event)

    def states(self) -> list[str]:
        return [e["detail"]["state"]["value"] for e in self.events]


ALARMS = BudgetAlarms(
    "sy-global-budget",
    (
        CostAlarm("sy-daily-cost", DAY, 10.0, "GreaterThanOrEqualToThreshold"),
        CostAlarm("sy-hourly-cost-spike", HOUR, 4.0, "GreaterThanOrEqualToThreshold"),
    ),
    "block",
)


async def test_the_daily_alarm_fires_and_clears_as_spend_ages_out() -> None:
    clock, spend = Clock(1_790_000_000), Spend()
    watch = CostAlarmWatch(ALARMS, spend, spend.apply, clock=clock)
    for _ in range(9):  # $9 over 9 hours: never a spike, not yet the budget
        spend.total += 1.0
        await watch.check()
        clock.advance(HOUR)
    assert spend.events == []
    spend.total += 1.0
    await watch.check()
    assert spend.states() == ["ALARM"]
    event = spend.events[0]
    assert event["detail"]["alarmName"] == "sy-global-budget"
    assert event["detail"]["previousState"]["value"] == "OK"
    assert "sy-daily-cost" in event["detail"]["state"]["reason"]
    clock.advance(14 * HOUR)
    await watch.check()
    assert spend.states() == ["ALARM"]  # all of it still within 24 hours
    clock.advance(HOUR + 60)  # the first dollar is older than a day: $9 left
    await watch.check()
    assert spend.states() == ["ALARM", "OK"]


async def test_a_spike_fires_and_the_daily_alarm_keeps_it_in_alarm() -> None:
    clock, spend = Clock(1_790_000_000), Spend()
    watch = CostAlarmWatch(ALARMS, spend, spend.apply, clock=clock)
    spend.total = 4.0  # within one hour: the spike alarm
    await watch.check()
    assert spend.states() == ["ALARM"]
    clock.advance(HOUR + 60)
    spend.total = 10.0  # the spike aged out, but the day's spend reached the budget
    await watch.check()
    assert spend.states() == ["ALARM"]
    clock.advance(DAY)
    await watch.check()
    assert spend.states() == ["ALARM", "OK"]


async def test_a_failed_hand_over_is_tried_again() -> None:
    clock, spend = Clock(1_790_000_000), Spend()
    watch = CostAlarmWatch(ALARMS, spend, spend.apply, clock=clock)
    spend.total, spend.fail = 20.0, True
    with pytest.raises(RuntimeError):
        await watch.check()
    spend.fail = False
    await watch.check()
    assert spend.states() == ["ALARM"]


async def test_make_run_drives_the_budget_function_with_the_local_state(tmp_path: Path) -> None:
    settings = LocalSettings(
        master_key=SecretStr(MASTER_KEY),
        mock_unconfigured=True,
        local_daily_budget_usd=0.0000001,  # the mock's first answer is over it
        budget_action="block",
    )
    app = create_app(settings)
    assert "block at $1e-07 per 24 h" in _cost_alarms(app, settings)
    async with running(app) as asgi:
        gateway = app.state.gateway
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as client:
            body = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        for _ in range(50):
            override = await gateway.state.budgets.override()
            if override is not None:
                break
            await asyncio.sleep(0.1)
        assert override is not None
        assert (override.action, override.reason) == ("block", "switchyard-global-budget")
        assert isinstance(gateway.events, MemoryPublisher)
        assert [d["action"] for t, d in gateway.events.events if t == BUDGET_ACTION] == ["block"]


def test_without_a_template_make_run_still_serves(tmp_path: Path) -> None:
    settings = LocalSettings(master_key=SecretStr(MASTER_KEY), template_path=tmp_path / "missing.yaml")
    assert _cost_alarms(create_app(settings), settings).startswith("no cost alarms")
