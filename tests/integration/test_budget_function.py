"""functions/budget/app.py, loaded by path as Lambda loads it, replaying the events/alarm-*.json
samples (what ``sam local invoke BudgetFunction -e …`` sends) against moto: the state table made
from template.yaml holds the override the routers read, and the "Switchyard Budget Action" event
goes out on the bus, where the template's notifications rule (its own pattern, an SQS queue
standing in for the SNS topic) picks it up."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cfnlint.decode import decode_str

from switchyard.events import BUDGET_ACTION
from switchyard.local.aws import client
from switchyard.state.dynamodb import DynamoSettings, Table, build_client
from switchyard.state.dynamodb_budgets import DynamoBudgetStore

ROOT = Path(__file__).resolve().parents[2]
ALARM_EVENT = ROOT / "events" / "alarm-global-budget-alarm.json"
OK_EVENT = ROOT / "events" / "alarm-global-budget-ok.json"


def load_function() -> ModuleType:
    name = f"budget_app_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "budget" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "BudgetFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:BudgetFunction"
    aws_request_id = "req-1"


def sample(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


@pytest.fixture
def bus(state_tables: Any) -> Any:
    """A bus of this test's own, with the template's notifications rule delivering to a queue."""
    template, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    pattern = template["Resources"]["NotificationsRule"]["Properties"]["EventPattern"]
    events, sqs = client("events", state_tables.endpoint), client("sqs", state_tables.endpoint)
    name = f"bus-{uuid.uuid4().hex[:12]}"
    events.create_event_bus(Name=name)
    url = sqs.create_queue(QueueName=f"{name}-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="notifications", EventBusName=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="notifications", EventBusName=name, Targets=[{"Id": "queue", "Arn": arn}])

    class Bus:
        bus_name = name

        def received(self) -> list[dict[str, Any]]:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    yield Bus()
    events.close()
    sqs.close()


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch, state_tables: Any, bus: Any) -> ModuleType:
    env = {
        "STATE_TABLE": state_tables.tables["StateTable"],
        "SWITCHYARD_AWS_ENDPOINT_URL": state_tables.endpoint,
        "SWITCHYARD_EVENT_BUS": bus.bus_name,
        "BUDGET_ACTION": "downgrade",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_function()


def override_item(state_tables: Any) -> dict[str, Any] | None:
    dynamodb = client("dynamodb", state_tables.endpoint)
    try:
        key = {"pk": {"S": "budget#global"}, "sk": {"S": "override"}}
        item: dict[str, Any] | None = dynamodb.get_item(
            TableName=state_tables.tables["StateTable"], Key=key, ConsistentRead=True
        ).get("Item")
        return item
    finally:
        dynamodb.close()


def test_importing_the_handler_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_TABLE", raising=False)
    assert load_function()._function is None


def test_the_samples_are_alarm_state_changes_of_the_budget_alarm() -> None:
    from switchyard.local.template import composite_alarms, load_template

    (composite,) = composite_alarms(load_template(ROOT / "template.yaml"))  # the stack "switchyard"
    for path, state in ((ALARM_EVENT, "ALARM"), (OK_EVENT, "OK")):
        event = sample(path)
        assert (event["source"], event["detail-type"]) == ("aws.cloudwatch", "CloudWatch Alarm State Change")
        assert event["detail"]["alarmName"] == composite and event["detail"]["state"]["value"] == state


def test_alarm_sets_the_override_and_ok_lifts_it(function: ModuleType, state_tables: Any, bus: Any) -> None:
    assert function.handler(sample(ALARM_EVENT), Context()) == {
        "alarm": "switchyard-global-budget",
        "state": "ALARM",
        "applied": "set",
        "action": "downgrade",
    }
    item = override_item(state_tables)
    assert item is not None
    assert (item["active"]["S"], item["action"]["S"], item["reason"]["S"]) == (
        "yes",
        "downgrade",
        "switchyard-global-budget",
    )
    # What every router reads (within its cache TTL).
    store = DynamoBudgetStore(
        Table(
            build_client(DynamoSettings(endpoint_url=state_tables.endpoint)),
            state_tables.tables["StateTable"],
        )
    )
    override = asyncio.run(store.override())
    assert override is not None and override.action == "downgrade"
    (announced,) = bus.received()
    assert (announced["source"], announced["detail-type"]) == ("switchyard", BUDGET_ACTION)
    assert announced["detail"] == {
        "scope": "global",
        "alarm": "switchyard-global-budget",
        "action": "downgrade",
        "state": "ALARM",
        "reason": sample(ALARM_EVENT)["detail"]["state"]["reason"],
    }

    assert function.handler(sample(OK_EVENT), Context())["applied"] == "cleared"
    item = override_item(state_tables)
    assert item is not None and item["active"]["S"] == "no"
    assert asyncio.run(store.override()) is None
    (lifted,) = bus.received()
    assert lifted["detail"]["action"] == "none" and lifted["detail"]["state"] == "OK"


def test_the_policy_allows_exactly_the_calls_the_function_makes(function: ModuleType) -> None:
    made: set[str] = set()
    built = function._get()
    for service_client in (built.store._table.client, built.events.client):
        prefix = service_client.meta.service_model.endpoint_prefix

        def count(model: Any, prefix: str = prefix, **_: Any) -> None:
            made.add(f"{prefix}:{model.name}")

        service_client.meta.events.register("before-call", count)
    function.handler(sample(ALARM_EVENT), Context())
    function.handler(sample(OK_EVENT), Context())
    template, _ = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    statements = [
        s for p in template["Resources"]["BudgetFunction"]["Properties"]["Policies"] for s in p["Statement"]
    ]
    allowed = {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert made == allowed


def test_an_ok_without_an_override_announces_nothing(function: ModuleType, bus: Any) -> None:
    assert function.handler(sample(OK_EVENT), Context())["applied"] == "cleared"
    assert bus.received() == []


def test_a_state_table_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_TABLE", raising=False)
    with pytest.raises(ValueError, match="STATE_TABLE"):
        load_function().handler(sample(ALARM_EVENT), Context())


def test_a_retried_alarm_after_its_ok_and_duplicates_change_nothing(
    function: ModuleType, state_tables: Any, bus: Any
) -> None:
    """EventBridge delivers at least once and Lambda retries: the ALARM may come again after the OK
    that followed it, and either may come twice. Only the newest state change counts."""
    alarm, ok = sample(ALARM_EVENT), sample(OK_EVENT)
    assert [function.handler(e, Context())["applied"] for e in (alarm, alarm)] == ["set", "stale"]
    assert [function.handler(e, Context())["applied"] for e in (ok, alarm, ok)] == [
        "cleared",
        "stale",
        "stale",
    ]
    item = override_item(state_tables)
    assert item is not None and item["active"]["S"] == "no"
    assert [e["detail"]["state"] for e in bus.received()] == ["ALARM", "OK"]


def test_an_ok_older_than_the_recorded_alarm_does_not_lift_it(
    function: ModuleType, state_tables: Any, bus: Any
) -> None:
    alarm, ok = sample(ALARM_EVENT), sample(OK_EVENT)
    # The OK of an earlier episode, delivered after this episode's ALARM.
    ok["detail"]["state"]["timestamp"] = "2026-11-23T14:04:00.000+0000"
    assert function.handler(alarm, Context())["applied"] == "set"
    assert function.handler(ok, Context())["applied"] == "stale"
    item = override_item(state_tables)
    assert item is not None and (item["active"]["S"], item["action"]["S"]) == ("yes", "downgrade")
    assert [e["detail"]["state"] for e in bus.received()] == ["ALARM"]


def test_by_default_an_alarm_refuses_no_traffic(
    monkeypatch: pytest.MonkeyPatch, function: ModuleType, state_tables: Any, bus: Any
) -> None:
    """GlobalBudgetAction's default (alert): the alarm's own actions notify; nothing is set."""
    monkeypatch.delenv("BUDGET_ACTION")
    fresh = load_function()
    assert fresh.handler(sample(ALARM_EVENT), Context())["applied"] == "ignored"
    assert override_item(state_tables) is None
    assert bus.received() == []


def test_an_alarm_event_without_a_timestamp_is_refused(function: ModuleType, state_tables: Any) -> None:
    event = sample(ALARM_EVENT)
    del event["time"], event["detail"]["state"]["timestamp"]
    with pytest.raises(ValueError, match="timestamp"):
        function.handler(event, Context())
    assert override_item(state_tables) is None
