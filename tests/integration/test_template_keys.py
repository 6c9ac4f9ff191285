"""template.yaml for provider key rotation (DESIGN §6): a schedule per provider secret (30 days by
default), the rotation function with only the calls its steps make, Secrets Manager allowed to
invoke it, secrets tagged with their provider, and the router allowed to publish its events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from switchyard.keys.secrets_rotation import PROVIDER_TAG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return dict(decoded)


def test_each_provider_secret_rotates_on_a_schedule(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert template["Parameters"]["KeyRotationDays"]["Default"] == 30
    schedules = {
        r["Properties"]["SecretId"]["Ref"]: r
        for r in resources.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    assert set(schedules) == {"OpenAIKeySecret", "AnthropicKeySecret"}
    for schedule in schedules.values():
        props = schedule["Properties"]
        assert props["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
        assert props["RotationRules"]["ScheduleExpression"] == {"Fn::Sub": "rate(${KeyRotationDays} days)"}
        assert schedule["DependsOn"] == "RotationFunctionInvokePermission"
    for name, provider in (("OpenAIKeySecret", "openai"), ("AnthropicKeySecret", "anthropic")):
        tags = {t["Key"]: t["Value"] for t in resources[name]["Properties"]["Tags"]}
        assert tags[PROVIDER_TAG] == provider


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
    assert [r["Ref"] for r in statements["RotateProviderKeySecrets"]["Resource"]] == [
        "OpenAIKeySecret",
        "AnthropicKeySecret",
    ]
    assert statements["PublishRotatedEvent"]["Action"] == "events:PutEvents"


def test_the_router_publishes_key_rejected_events(template: dict[str, Any]) -> None:
    router = template["Resources"]["RouterFunction"]["Properties"]
    assert router["Environment"]["Variables"]["SWITCHYARD_EVENT_BUS"] == "default"
    actions = [s["Action"] for p in router["Policies"] for s in p["Statement"]]
    assert "events:PutEvents" in actions
