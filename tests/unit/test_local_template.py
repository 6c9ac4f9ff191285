"""switchyard.local.template: boto3 kwargs for local tables and queues, from template.yaml itself."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from switchyard.local.template import (
    TemplateError,
    load_template,
    local_name,
    queue_definitions,
    table_definitions,
    ttl_definitions,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture
def write_template(tmp_path: Path) -> Callable[[str], dict[str, Any]]:
    """Writes YAML text to a file and loads it, as the local runtime loads template.yaml."""

    def write(text: str) -> dict[str, Any]:
        path = tmp_path / "template.yaml"
        path.write_text(text, encoding="utf-8")
        return load_template(path)

    return write


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_load_template_gives_plain_builtins_with_intrinsics_as_dicts(template: dict[str, Any]) -> None:
    queue = template["Resources"]["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}

    def assert_plain(value: Any) -> None:
        assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
        if isinstance(value, dict):
            for key, item in value.items():
                assert type(key) is str
                assert_plain(item)
        elif isinstance(value, list):
            for item in value:
                assert_plain(item)

    assert_plain(template)


def test_load_template_rejects_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("Resources:\n  A: [unclosed\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="cannot parse"):
        load_template(path)


def test_tables_follow_the_template(template: dict[str, Any]) -> None:
    tables = {t["TableName"]: t for t in table_definitions(template)}

    assert set(tables) == {"switchyard-StateTable", "switchyard-CacheTable"}
    state = tables["switchyard-StateTable"]
    assert state["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert state["BillingMode"] == "PAY_PER_REQUEST"
    # CloudFormation-only settings are not create_table arguments.
    assert "PointInTimeRecoverySpecification" not in state
    assert "TimeToLiveSpecification" not in state
    assert tables["switchyard-CacheTable"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_ttl_definitions_name_expires_at(template: dict[str, Any]) -> None:
    assert ttl_definitions(template, prefix="t") == [
        {
            "TableName": "t-StateTable",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
        {
            "TableName": "t-CacheTable",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    ]


def test_queues_come_dead_letter_first_with_a_resolved_redrive(template: dict[str, Any]) -> None:
    queues = queue_definitions(template, prefix="sy", region="eu-west-1", account_id="111122223333")

    assert [q["QueueName"] for q in queues] == ["sy-JobsDeadLetterQueue", "sy-JobsQueue"]
    jobs = queues[1]["Attributes"]
    assert json.loads(jobs["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:111122223333:sy-JobsDeadLetterQueue",
        "maxReceiveCount": 5,
    }
    assert int(jobs["VisibilityTimeout"]) >= 6 * 300
    assert jobs["SqsManagedSseEnabled"] == "true"
    assert queues[0]["Attributes"]["MessageRetentionPeriod"] == str(14 * 24 * 3600)


@pytest.mark.usefixtures("aws")
def test_definitions_provision_moto(template: dict[str, Any]) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")

    for kwargs in table_definitions(template):
        dynamodb.create_table(**kwargs)
    for kwargs in ttl_definitions(template):
        dynamodb.update_time_to_live(**kwargs)
    urls = [sqs.create_queue(**kwargs)["QueueUrl"] for kwargs in queue_definitions(template)]

    ttl = dynamodb.describe_time_to_live(TableName=local_name("StateTable"))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    dlq_arn = sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = sqs.get_queue_attributes(QueueUrl=urls[1], AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(redrive["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn


SYNTHETIC = """
Parameters:
  Env:
    Type: String
    Default: dev
Resources:
  Named:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-${Env}-named-${!Literal}"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by-g
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
          ContributorInsightsSpecification: {Enabled: true}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      SSESpecification: {SSEEnabled: true}
      KinesisStreamSpecification: {StreamArn: !GetAtt Elsewhere.Arn}
  Ordered:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      RedrivePolicy:
        deadLetterTargetArn: !Sub "${OrderedDlq.Arn}"
        maxReceiveCount: 3
      Tags: [{Key: team, Value: !Ref Env}]
  OrderedDlq:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
"""


def test_synthetic_template_maps_cloudformation_spellings(
    write_template: Callable[[str], dict[str, Any]],
) -> None:
    template = write_template(SYNTHETIC)

    (table,) = table_definitions(template, prefix="stack")
    assert table["TableName"] == "stack-dev-named-${Literal}"
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["SSESpecification"] == {"Enabled": True}
    # Properties a local table does not use are never resolved (Elsewhere does not exist).
    assert "KinesisStreamSpecification" not in table

    dlq, queue = queue_definitions(template, prefix="stack")
    assert dlq["QueueName"] == "stack-OrderedDlq.fifo"
    assert queue["QueueName"] == "stack-Ordered.fifo"
    assert queue["Attributes"]["FifoQueue"] == "true"
    assert json.loads(queue["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"] == (
        "arn:aws:sqs:us-east-1:123456789012:stack-OrderedDlq.fifo"
    )
    assert queue["tags"] == {"team": "dev"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("VisibilityTimeout: !If [IsProd, 60, 30]", "unsupported intrinsic Fn::If"),
        ("VisibilityTimeout: !Ref NoDefault", "no default"),
        ("VisibilityTimeout: !GetAtt Missing.Arn", "Missing.Arn"),
        ("RedrivePolicy: {deadLetterTargetArn: !GetAtt Q.Arn, maxReceiveCount: 1}", "redrive cycle"),
    ],
)
def test_unresolvable_templates_raise(
    write_template: Callable[[str], dict[str, Any]], properties: str, message: str
) -> None:
    template = write_template(
        "Parameters:\n  NoDefault:\n    Type: String\n"
        f"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      {properties}\n"
    )
    with pytest.raises(TemplateError, match=message):
        queue_definitions(template)
