"""template.yaml's alarms and dashboard watch metrics the code really emits.

CloudWatch keeps every dimension set of a metric apart and never sums across them: an alarm on
``CostUSD {service}`` sees nothing if the code only emits ``CostUSD {service, Provider, …}``. So
the gateway serves answers, fallbacks, cache hits, streams and every error the alarms count, its
metrics are flushed, and the EMF printed on stdout (what CloudWatch Logs would ingest) is parsed:
each (namespace, metric, dimensions) an alarm or a dashboard graph names must be among them.
The rest checks the wiring around the alarms: the EventBridge rules, the budget function and its
permissions, the notifications topic.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from cfnlint.decode import decode_str
from gateway_checks import MESSAGES, dep
from pydantic import SecretStr

from conftest import GATEWAY_ENV, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from switchyard import events as eventbus
from switchyard.config.settings import BudgetFunctionSettings, RotationSettings, RouterSettings
from switchyard.errors import Kind
from switchyard.http.app import create_app
from switchyard.metrics import BUDGET_WRITES_THROTTLED, LIMIT_WRITES_THROTTLED

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PRICE = {"input": 2.0, "output": 8.0}

type Emitted = set[tuple[str, str, frozenset[tuple[str, str]]]]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches
    found: dict[str, Any] = template["Resources"]
    return found


def emf_metrics(stdout: str) -> Emitted:
    """(namespace, metric, dimension name/value pairs) of every EMF document in ``stdout``."""
    emitted: Emitted = set()
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                pairs = frozenset((name, doc[name]) for name in dimensions)
                for metric in directive["Metrics"]:
                    emitted.add((directive["Namespace"], metric["Name"], pairs))
    return emitted


@pytest.fixture(scope="module")
def emitted(_fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Emitted:
    """What a gateway printed after serving every kind of outcome the alarms count."""
    import asyncio

    capture = pytest.MonkeyPatch()
    lines: list[str] = []
    capture.setattr("builtins.print", lambda *args, **_: lines.append(" ".join(str(a) for a in args)))
    try:
        asyncio.run(_serve_everything(_fake_upstream_server, tmp_path_factory.mktemp("alarms")))
        _check_backups()
    finally:
        capture.undo()
    return emf_metrics("\n".join(lines))


def _check_backups() -> None:
    """The rotation function's hourly check, built as its handler builds it (no secret to watch:
    it still reports its count)."""
    from switchyard.compose import open_backup_watch

    assert open_backup_watch(RotationSettings(aws_region="us-east-1")).run() == []


async def _serve_everything(fake: FakeUpstream, directory: Path) -> None:
    fake.reset()
    routing = fake.routing_config(
        providers={name: "openai" for name in ("a", "b", "r", "q", "o")},
        models={
            "m": {"deployments": [dep("a", "up-a", price=PRICE), dep("b", "up-b", price=PRICE)]},
            "r": {"deployments": [dep("r", "up-r")]},
            "q": {"deployments": [dep("q", "up-q")]},
            "o": {"deployments": [dep("o", "up-o")]},
        },
        breaker={"failure_threshold": 1},
    )
    config = directory / "routing.json"
    config.write_text(json.dumps({**routing, "limits": {"default": {"rpm": 12}}}), encoding="utf-8")
    settings = RouterSettings(
        config_path=config, master_key=SecretStr(MASTER_KEY), environment=dict(GATEWAY_ENV)
    )
    app = create_app(settings)
    async with running(app) as asgi:
        transport = httpx.ASGITransport(app=asgi)
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as client:

            async def ask(model: str, **extra: Any) -> httpx.Response:
                return await client.post(
                    "/v1/chat/completions", json={"model": model, "messages": MESSAGES, **extra}
                )

            assert (await ask("m", seed=7)).status_code == 200
            assert (await ask("m", seed=7)).headers["x-switchyard-cache"] == "hit"
            fake.script("a", Reply.overloaded())  # a fails (its breaker opens), b answers: a fallback
            assert (await ask("m")).headers["x-switchyard-provider"] == "b"
            async with client.stream(
                "POST", "/v1/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}
            ) as streamed:
                assert streamed.status_code == 200
                await streamed.aread()
            fake.script("r", Reply.rate_limited(retry_after=600))
            assert (await ask("r")).status_code == 429
            fake.script("q", Reply.insufficient_quota())
            assert (await ask("q")).status_code == 429
            fake.script("o", Reply.overloaded())
            assert (await ask("o")).status_code == 503
            assert (
                await client.post("/v1/chat/completions", json={}, headers={"Authorization": "Bearer no"})
            ).status_code == 401
            for _ in range(20):  # the key's rpm runs out
                if (await ask("m")).status_code == 429:
                    break
            else:
                pytest.fail("the key limit never answered 429")
            gateway = app.state.gateway
            # What the DynamoDB adapters count when a counter write is throttled (memory state
            # here cannot be; tests/unit/test_state_throttling.py shows the adapters do).
            gateway.metrics.count(BUDGET_WRITES_THROTTLED)
            gateway.metrics.count(LIMIT_WRITES_THROTTLED)
            gateway.metrics.flush()
            gateway.metrics.requests.flush()
    fake.reset()


def namespace_and_service(resources: dict[str, Any]) -> tuple[str, str]:
    template, _ = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    return env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]


def alarm_metrics(resources: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    """Alarm logical id -> the (namespace, metric, dimensions) it reads, math alarms included."""
    found: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    for rid, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", ()) if "MetricStat" in m]
        if "MetricName" in props:
            stats.append(props)
        found[rid] = [
            (s["Namespace"], s["MetricName"], {d["Name"]: d["Value"] for d in s.get("Dimensions", ())})
            for s in stats
        ]
    return found


def test_the_template_publishes_under_the_settings_namespace_and_service(resources: dict[str, Any]) -> None:
    namespace, service = namespace_and_service(resources)
    settings = RouterSettings.from_env(
        {"POWERTOOLS_METRICS_NAMESPACE": namespace, "POWERTOOLS_SERVICE_NAME": service}
    )
    assert (settings.metrics_namespace, settings.service_name) == (namespace, service)
    assert (RouterSettings().metrics_namespace, RouterSettings().service_name) == (namespace, service)


def test_every_alarm_reads_a_metric_the_code_emits(resources: dict[str, Any], emitted: Emitted) -> None:
    namespace, service = namespace_and_service(resources)
    ours = {
        rid: metrics
        for rid, metrics in alarm_metrics(resources).items()
        if any(m[0] == namespace for m in metrics)
    }
    assert {"DailyCostAlarm", "HourlyCostSpikeAlarm", "ErrorRateAlarm", "LatencyAlarm"} <= set(ours)
    assert {
        "RateLimitAlarm",
        "FallbackRateAlarm",
        "ProviderKeyBackupAlarm",
        "StateWritesThrottledAlarm",
    } <= set(ours)
    for rid, metrics in ours.items():
        for ns, metric, dimensions in metrics:
            assert dimensions.get("service") == service, (rid, metric)
            assert (ns, metric, frozenset(dimensions.items())) in emitted, (rid, metric, dimensions)


def test_the_cost_alarms_watch_total_spend(resources: dict[str, Any]) -> None:
    for rid, period, parameter in (
        ("DailyCostAlarm", 86400, "GlobalDailyBudgetUSD"),
        ("HourlyCostSpikeAlarm", 3600, "GlobalHourlySpikeUSD"),
    ):
        props = resources[rid]["Properties"]
        assert props["MetricName"] == "CostUSD" and props["Statistic"] == "Sum"
        assert props["Dimensions"] == [{"Name": "service", "Value": "switchyard"}]
        # CloudWatch: a period of an hour or more, at most 7 days of evaluation in all.
        assert props["Period"] == period and props["Period"] * props["EvaluationPeriods"] <= 7 * 86400
        assert props["TreatMissingData"] == "notBreaching"
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["Threshold"] == {"Ref": parameter}


def test_the_composite_budget_alarm_covers_both_cost_alarms(resources: dict[str, Any]) -> None:
    rule = resources["GlobalBudgetAlarm"]["Properties"]["AlarmRule"]["Fn::Sub"]
    assert set(re.findall(r'ALARM\("\$\{(\w+)\}"\)', rule)) == {"DailyCostAlarm", "HourlyCostSpikeAlarm"}
    assert " OR " in rule and " AND " not in rule


def test_the_alarm_rule_sends_the_budget_alarm_to_the_budget_function(resources: dict[str, Any]) -> None:
    props = resources["BudgetAlarmRule"]["Properties"]
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    composite = resources["GlobalBudgetAlarm"]["Properties"]["AlarmName"]
    assert pattern["detail"]["alarmName"] == [composite]
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["BudgetFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
    permission = resources["BudgetAlarmRulePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["BudgetAlarmRule", "Arn"]}


def test_the_budget_function_is_built_like_the_others_with_least_privilege(resources: dict[str, Any]) -> None:
    props = resources["BudgetFunction"]["Properties"]
    assert (props["CodeUri"], props["Handler"]) == ("functions/budget/", "app.handler")
    assert props["Layers"] == [{"Ref": "DepsLayer"}, {"Ref": "SharedLayer"}]
    env = props["Environment"]["Variables"]
    assert env == {
        "STATE_TABLE": {"Ref": "StateTable"},
        "BUDGET_ACTION": {"Ref": "GlobalBudgetAction"},
        "SWITCHYARD_EVENT_BUS": "default",
    }
    invoke = props["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] <= 2 and invoke["MaximumEventAgeInSeconds"] <= 3600
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SNS",
        "Destination": {"Ref": "NotificationsTopic"},
    }
    statements = [s for policy in props["Policies"] for s in policy["Statement"]]
    actions = set()
    for statement in statements:
        assert statement["Effect"] == "Allow" and "*" not in json.dumps(statement)
        actions |= set(
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "events:PutEvents"}
    (table,) = [s for s in statements if s["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}]
    # The override item only (state/dynamodb_budgets.py: pk "budget#global").
    assert table["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["budget#global"]}}


def test_budget_action_parameter_matches_the_settings(resources: dict[str, Any]) -> None:
    template, _ = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    parameter = template["Parameters"]["GlobalBudgetAction"]
    assert parameter["AllowedValues"] == ["alert", "block", "downgrade"]
    # A fresh deploy never refuses traffic on its own: refusing is opt-in.
    assert parameter["Default"] == "alert"
    for value in parameter["AllowedValues"]:
        assert BudgetFunctionSettings.from_env({"BUDGET_ACTION": value}).budget_action == value


def test_switchyard_events_reach_the_notifications_topic(resources: dict[str, Any]) -> None:
    pattern = resources["NotificationsRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == [eventbus.SOURCE]
    assert set(pattern["detail-type"]) == {
        eventbus.BUDGET_THRESHOLD,
        eventbus.BUDGET_ACTION,
        eventbus.KEY_REJECTED,
        eventbus.KEY_ROTATED,
    }
    (target,) = resources["NotificationsRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "NotificationsTopic"}
    statements = resources["NotificationsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_principal = {s["Principal"]["Service"]: s for s in statements}
    events = by_principal["events.amazonaws.com"]
    assert events["Action"] == "sns:Publish" and events["Resource"] == {"Ref": "NotificationsTopic"}
    assert events["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["NotificationsRule", "Arn"]}}
    }
    alarms = by_principal["cloudwatch.amazonaws.com"]
    assert ":alarm:${AWS::StackName}-" in alarms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


def test_every_alarm_is_named_for_the_stack_and_notifies(resources: dict[str, Any]) -> None:
    for rid, resource in resources.items():
        if resource["Type"] not in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            continue
        props = resource["Properties"]
        # The topic policy lets CloudWatch publish for alarms named ${AWS::StackName}-*.
        assert props["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), rid
        if rid in ("DailyCostAlarm", "HourlyCostSpikeAlarm"):
            assert "AlarmActions" not in props, rid  # they notify through the composite
        else:
            assert props["AlarmActions"] == [{"Ref": "NotificationsTopic"}], rid


def test_the_budget_alarm_notifies_both_ways_whatever_the_action(resources: dict[str, Any]) -> None:
    """With the default action (alert) the budget function sets nothing: the alarm's own actions are
    what tells people that spend crossed the budget, and that it is back under."""
    props = resources["GlobalBudgetAlarm"]["Properties"]
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "NotificationsTopic"}]


def test_the_operational_alarms_of_design_5(resources: dict[str, Any]) -> None:
    error_rate = resources["ErrorRateAlarm"]["Properties"]
    assert error_rate["Threshold"] == 5 and error_rate["ComparisonOperator"] == "GreaterThanThreshold"
    assert {m["MetricStat"]["Period"] for m in error_rate["Metrics"] if "MetricStat" in m} == {300}
    (expression,) = [m for m in error_rate["Metrics"] if m.get("ReturnData")]
    assert "100 *" in expression["Expression"] and "/ requests" in expression["Expression"]
    limited = resources["RateLimitAlarm"]["Properties"]
    kinds = {
        d["Value"]
        for m in limited["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "ErrorKind"
    }
    assert kinds == {Kind.CLIENT_RATE_LIMITED, Kind.RATE_LIMITED, Kind.QUOTA_EXCEEDED}
    assert limited["Threshold"] == 10 and {
        m["MetricStat"]["Period"] for m in limited["Metrics"] if "MetricStat" in m
    } == {60}
    fallback = resources["FallbackRateAlarm"]["Properties"]
    assert fallback["Threshold"] == 20
    latency = resources["LatencyAlarm"]["Properties"]
    assert latency["ExtendedStatistic"] == "p99" and latency["Threshold"] == {"Ref": "LatencyP99AlarmMs"}
    assert resources["JobsDeadLetterAlarm"]["Properties"]["Threshold"] == 0


def dashboard(resources: dict[str, Any]) -> dict[str, Any]:
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name in re.findall(r"\$\{([^}]+)\}", body):
        assert name.startswith("AWS::") or name.split(".")[0] in resources, name
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    return parsed


def test_every_dashboard_graph_reads_a_metric_the_code_emits(
    resources: dict[str, Any], emitted: Emitted
) -> None:
    namespace, _ = namespace_and_service(resources)
    graphed: list[tuple[str, str, frozenset[tuple[str, str]]]] = []
    searched: list[tuple[str, str, frozenset[str]]] = []
    for widget in dashboard(resources)["widgets"]:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", ()):
            if isinstance(row[0], dict):
                found = re.search(r"SEARCH\('\{([^}]+)\} MetricName=\"(\w+)\"", row[0]["expression"])
                assert found, row
                ns, *names = found.group(1).split(",")
                searched.append((ns, found.group(2), frozenset(names)))
                continue
            fields = [f for f in row if not isinstance(f, dict)]
            if fields == ["..."]:
                fields = previous
            previous = fields
            ns, metric, *pairs = fields
            graphed.append((ns, metric, frozenset(zip(pairs[::2], pairs[1::2], strict=True))))
    ours = [g for g in graphed if g[0] == namespace]
    assert {g[1] for g in ours} >= {"Requests", "Errors", "Latency", "CostUSD", "CacheHit", "Fallbacks"}
    for entry in ours:
        assert entry in emitted, entry
    emitted_names = {(ns, metric, frozenset(name for name, _ in pairs)) for ns, metric, pairs in emitted}
    assert {s[1] for s in searched} >= {"Errors", "CostUSD", "UpstreamLatency", "BreakerOpens"}
    for entry in searched:
        assert entry in emitted_names, entry
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in {(g[0], g[1]) for g in graphed}


def test_the_dashboard_shows_every_alarm(resources: dict[str, Any]) -> None:
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    alarms = {
        rid
        for rid, r in resources.items()
        if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    }
    assert set(re.findall(r"\$\{(\w+)\.Arn\}", body)) == alarms
