"""template.yaml for provider keys (docs/keys.md): one secret per provider of the shipped routing
config that takes an API key, each with a parameter that creates it, a rotation schedule (30 days
by default), the variable that passes its ARN to the router, the worker and the rotation function,
and permission for exactly those functions to use exactly those secrets; the rotation function
with only the calls its steps make, its hourly backup check, and the alarms that tell people when
a rotation failed or is about to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

from switchyard.config.settings import DEFAULT_CONFIG
from switchyard.keys.secrets_rotation import PROVIDER_TAG

ROOT = Path(__file__).resolve().parents[2]
SECRET_READERS = ("RouterFunction", "WorkerFunction", "RotationFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return dict(decoded)


@pytest.fixture(scope="module")
def keyed_providers() -> dict[str, str]:
    """Provider -> the variable its secret's ARN comes in, for every shipped provider with a key."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    found = {}
    for name, provider in config["providers"].items():
        api_key = provider.get("api_key")
        if api_key is None:
            continue  # local servers (Ollama, vLLM) and the mock take no key
        assert api_key.get("secret_env"), f"{name} takes a key but has no secret in AWS"
        found[name] = api_key["secret_env"]
    return found


def provider_secrets(template: dict[str, Any]) -> dict[str, str]:
    """Provider (its tag) -> logical id of its secret."""
    found = {}
    for rid, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            if PROVIDER_TAG in tags:
                found[tags[PROVIDER_TAG]] = rid
    return found


def conditional_ref(rid: str) -> dict[str, Any]:
    return {"Fn::If": [f"Has{rid}", {"Ref": rid}, {"Ref": "AWS::NoValue"}]}


def test_every_provider_of_the_config_has_its_own_secret(
    template: dict[str, Any], keyed_providers: dict[str, str]
) -> None:
    secrets = provider_secrets(template)
    assert set(secrets) == set(keyed_providers)
    assert {"openai", "anthropic", "gemini", "xai", "perplexity", "groq"} <= set(secrets)
    for provider, rid in secrets.items():
        resource = template["Resources"][rid]
        assert resource["Condition"] == f"Has{rid}"
        parameter = template["Parameters"][f"Create{rid}"]
        assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])
        assert template["Conditions"][f"Has{rid}"] == {"Fn::Equals": [{"Ref": f"Create{rid}"}, "true"]}
        assert resource["Properties"]["SecretString"] == '{"primary": "", "backup": ""}', provider
        output = template["Outputs"][f"{rid}Arn"]
        assert output == {"Condition": f"Has{rid}", "Value": {"Ref": rid}}


def test_each_function_that_reads_keys_gets_every_secret_and_may_read_only_those(
    template: dict[str, Any], keyed_providers: dict[str, str]
) -> None:
    resources = template["Resources"]
    secrets = provider_secrets(template)
    for function in SECRET_READERS:
        props = resources[function]["Properties"]
        env = props["Environment"]["Variables"]
        for provider, variable in keyed_providers.items():
            assert env[variable] == conditional_ref(secrets[provider]), (function, provider)
        readable = [
            resource
            for policy in props["Policies"]
            for statement in policy["Statement"]
            if "secretsmanager:GetSecretValue" in statement["Action"]
            for resource in statement["Resource"]
        ]
        provider_refs = [r for r in readable if "Fn::If" in r]
        assert provider_refs == [conditional_ref(secrets[p]) for p in keyed_providers], function
        others = {r["Ref"] for r in readable if "Ref" in r}
        expected = set() if function == "RotationFunction" else {"MasterKeySecret", "WebhookSecret"}
        assert others == expected, function


def test_each_provider_secret_rotates_on_a_schedule(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert template["Parameters"]["KeyRotationDays"]["Default"] == 30
    schedules = {
        r["Properties"]["SecretId"]["Ref"]: r
        for r in resources.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    assert set(schedules) == set(provider_secrets(template).values())
    for rid, schedule in schedules.items():
        props = schedule["Properties"]
        assert schedule["Condition"] == f"Has{rid}"
        assert props["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
        assert props["RotationRules"]["ScheduleExpression"] == {"Fn::Sub": "rate(${KeyRotationDays} days)"}
        assert schedule["DependsOn"] == "RotationFunctionInvokePermission"


def test_secrets_manager_may_invoke_the_rotation_function(template: dict[str, Any]) -> None:
    permission = template["Resources"]["RotationFunctionInvokePermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["FunctionName"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}


def test_the_rotation_function_may_do_only_its_steps(template: dict[str, Any]) -> None:
    function = template["Resources"]["RotationFunction"]["Properties"]
    assert function["CodeUri"] == "functions/rotation/" and function["Handler"] == "app.handler"
    statements = {s["Sid"]: s for p in function["Policies"] for s in p["Statement"]}
    assert set(statements["RotateProviderKeySecrets"]["Action"]) == {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    }
    assert statements["PublishRotatedEvent"]["Action"] == "events:PutEvents"


def test_the_backup_check_runs_hourly_with_the_input_the_handler_expects(template: dict[str, Any]) -> None:
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("rotation_app_check", ROOT / "functions/rotation/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function = template["Resources"]["RotationFunction"]["Properties"]
    check = function["Events"]["BackupCheck"]
    assert check["Type"] == "Schedule" and check["Properties"]["Schedule"] == "rate(1 hour)"
    assert json.loads(check["Properties"]["Input"]) == module.CHECK_BACKUPS
    env = function["Environment"]["Variables"]
    assert env["SWITCHYARD_KEY_BACKUP_WARNING_DAYS"] == {"Ref": "KeyBackupWarningDays"}


def test_rotation_failures_and_missing_backups_are_alarmed(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    failed = resources["KeyRotationFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/Lambda", "Errors")
    assert failed["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "RotationFunction"}}]
    assert failed["Threshold"] == 0 and failed["ComparisonOperator"] == "GreaterThanThreshold"
    backup = resources["ProviderKeyBackupAlarm"]["Properties"]
    assert backup["MetricName"] == "ProviderKeysWithoutBackup" and backup["Statistic"] == "Maximum"
    # The check emits hourly: one period without a datapoint must not clear a standing gap.
    assert backup["Period"] == 3600 and (backup["EvaluationPeriods"], backup["DatapointsToAlarm"]) == (2, 1)
    for alarm in (failed, backup):
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "NotificationsTopic"}]


def test_the_router_publishes_key_rejected_events(template: dict[str, Any]) -> None:
    router = template["Resources"]["RouterFunction"]["Properties"]
    assert router["Environment"]["Variables"]["SWITCHYARD_EVENT_BUS"] == "default"
    actions = [s["Action"] for p in router["Policies"] for s in p["Statement"]]
    assert "events:PutEvents" in actions
