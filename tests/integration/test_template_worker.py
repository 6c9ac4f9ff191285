"""The worker's part of template.yaml: its SQS event (partial batch failures, batch size, bounded
concurrency), timings that keep a claimed job from being handed to a second worker, and inline,
item-level permissions only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Item-level calls only (BatchGetItem reads named items: the budget override with a tenant;
# BatchWriteItem writes named items: a conversation's turns).
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches
    found: dict[str, Any] = template["Resources"]
    return found


def test_the_worker_consumes_the_jobs_queue_with_partial_batch_failures(resources: dict[str, Any]) -> None:
    worker = resources["WorkerFunction"]["Properties"]
    assert (worker["CodeUri"], worker["Handler"]) == ("functions/worker/", "app.handler")
    assert worker["Layers"][:2] == [{"Ref": "DepsLayer"}, {"Ref": "SharedLayer"}]  # + a custom config
    [event] = worker["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "SQS" and props["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    # Its own cap, a parameter (SQS allows 2 to 1000).
    assert props["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "WorkerMaxConcurrency"}


def test_a_claim_outlasts_an_invocation_and_lapses_before_redelivery(resources: dict[str, Any]) -> None:
    from switchyard.config.settings import WorkerSettings

    timeout = resources["WorkerFunction"]["Properties"]["Timeout"]
    visibility = resources["JobsQueue"]["Properties"]["VisibilityTimeout"]
    lease = WorkerSettings().job_lease_s
    assert visibility >= 6 * timeout and timeout < lease < visibility


def test_the_worker_policies_are_inline_item_level_and_read_its_secrets(resources: dict[str, Any]) -> None:
    statements = [s for p in resources["WorkerFunction"]["Properties"]["Policies"] for s in p["Statement"]]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        # A cross-region profile's model in any region, only through named profiles: the one
        # wildcard, checked in test_template_bedrock.py.
        if statement["Sid"] != "InvokeBedrockModelsThroughProfiles":
            assert "*" not in json.dumps(statement["Resource"])
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert {a for a in actions if a.startswith("dynamodb:")} <= ITEM_ACTIONS
        assert not any(a.startswith("sqs:") for a in actions)  # the SQS event's own policy covers it
    secrets = {
        r["Ref"] if "Ref" in r else r["Fn::If"][1]["Ref"]
        for s in statements
        if s["Action"] == "secretsmanager:GetSecretValue"
        for r in s["Resource"]
    }
    # Every provider's (test_template_keys.py checks which), the master key's and the webhooks'.
    assert {
        "MasterKeySecret",
        "OpenAIKeySecret",
        "AnthropicKeySecret",
        "GeminiKeySecret",
        "WebhookSecret",
    } <= secrets
    env = resources["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SWITCHYARD_WEBHOOK_SECRET_NAME"] == {"Ref": "WebhookSecret"}


def test_the_router_may_enqueue_jobs(resources: dict[str, Any]) -> None:
    router = resources["RouterFunction"]["Properties"]
    statements = [s for p in router["Policies"] for s in p["Statement"]]
    assert any(
        s["Action"] == "sqs:SendMessage" and s["Resource"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
        for s in statements
    )
    assert router["Environment"]["Variables"]["JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
