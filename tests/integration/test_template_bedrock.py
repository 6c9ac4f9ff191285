"""template.yaml for Amazon Bedrock: the router and the worker (both call providers) may invoke
exactly the Bedrock models of the shipped routing config, foundation models in the stack's region
and cross-region inference profiles, the profiles' models in other regions only through those
profiles; and they tell the config which region to call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

from switchyard.config.settings import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]
CALLERS = ("RouterFunction", "WorkerFunction")
ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.(.+)$")
REGIONAL = "arn:${AWS::Partition}:bedrock:${AWS::Region}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return dict(decoded)


@pytest.fixture(scope="module")
def shipped() -> tuple[dict[str, Any], list[str]]:
    """The shipped bedrock provider, and the Bedrock model ids its routes use."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    names = [n for n, p in config["providers"].items() if p["kind"] == "bedrock"]
    assert names == ["bedrock"]
    models = [
        d["model"]
        for route in config["models"].values()
        for d in route["deployments"]
        if d["provider"] == "bedrock"
    ]
    assert models, "the shipped config routes some models to Bedrock"
    return config["providers"]["bedrock"], models


def statements(template: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    props = template["Resources"][function]["Properties"]
    return {s["Sid"]: s for policy in props["Policies"] for s in policy["Statement"] if "Sid" in s}


def subs(resources: list[Any]) -> list[str]:
    assert all(set(r) == {"Fn::Sub"} for r in resources), resources
    return [r["Fn::Sub"] for r in resources]


@pytest.mark.parametrize("function", CALLERS)
def test_exactly_the_shipped_models_may_be_invoked(
    template: dict[str, Any], shipped: tuple[dict[str, Any], list[str]], function: str
) -> None:
    _, models = shipped
    profiles = [m for m in models if PROFILE.match(m)]
    direct = [m for m in models if not PROFILE.match(m)]
    found = statements(template, function)

    invoke = found["InvokeBedrockModels"]
    assert invoke["Effect"] == "Allow" and invoke["Action"] == ACTIONS
    assert "Condition" not in invoke
    assert sorted(subs(invoke["Resource"])) == sorted(
        [f"{REGIONAL}::foundation-model/{m}" for m in direct]
        + [f"{REGIONAL}:${{AWS::AccountId}}:inference-profile/{m}" for m in profiles]
    )

    through = found["InvokeBedrockModelsThroughProfiles"]
    assert through["Effect"] == "Allow" and through["Action"] == ACTIONS
    behind = sorted({PROFILE.match(m).group(2) for m in profiles})  # type: ignore[union-attr]
    assert sorted(subs(through["Resource"])) == [
        f"arn:${{AWS::Partition}}:bedrock:*::foundation-model/{m}" for m in behind
    ]
    condition = through["Condition"]["StringLike"]["bedrock:InferenceProfileArn"]
    assert sorted(subs(condition)) == sorted(
        f"{REGIONAL}:${{AWS::AccountId}}:inference-profile/{m}" for m in profiles
    )


@pytest.mark.parametrize("function", CALLERS)
def test_the_functions_name_the_region_the_shipped_provider_calls(
    template: dict[str, Any], shipped: tuple[dict[str, Any], list[str]], function: str
) -> None:
    provider, _ = shipped
    assert provider["region"] == "${SWITCHYARD_BEDROCK_REGION}"
    assert provider["requires_env"] == ["SWITCHYARD_BEDROCK_REGION"]
    assert "api_key" not in provider  # the function's role signs: no key, no secret
    env = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    assert env["SWITCHYARD_BEDROCK_REGION"] == {"Ref": "AWS::Region"}


def test_no_other_function_may_invoke_models(template: dict[str, Any]) -> None:
    for rid, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or rid in CALLERS:
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert not any(a.startswith("bedrock:") for a in actions), rid
