"""Saving and putting back the emulated tables and queues (switchyard.local.snapshot), on the moto
server the local runtime uses: items and queued messages come back after their tables and queues
are gone, what did not change is not saved again, and a table whose template definition changed,
or a file that cannot be read, starts empty with a note."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from switchyard.local.aws import DEFAULT_TEMPLATE, EmulatedAws, client, emulated_aws, provision
from switchyard.local.snapshot import Definitions, Snapshots
from switchyard.local.template import load_template

ITEM = {"pk": {"S": "key#k_1"}, "sk": {"S": "key"}, "tenant": {"S": "acme"}}


@dataclass(frozen=True)
class Emulated:
    """moto's backends are the process's: each test names its tables and queues apart."""

    aws: EmulatedAws
    prefix: str

    @property
    def endpoint(self) -> str:
        return self.aws.endpoint

    @property
    def table(self) -> str:
        return f"{self.prefix}-StateTable"


@pytest.fixture
def aws() -> Iterator[Emulated]:
    with emulated_aws() as emulated:
        yield Emulated(emulated, f"snap{uuid.uuid4().hex[:10]}")


@pytest.fixture
def definitions(aws: Emulated) -> Definitions:
    return Definitions.of(load_template(DEFAULT_TEMPLATE), prefix=aws.prefix)


def seed(aws: Emulated) -> str:
    resources = provision(aws.endpoint, prefix=aws.prefix)
    dynamodb, sqs = client("dynamodb", aws.endpoint), client("sqs", aws.endpoint)
    dynamodb.put_item(TableName=aws.table, Item=ITEM)
    sqs.send_message(QueueUrl=resources.queues["JobsQueue"], MessageBody="job-1")
    dynamodb.close()
    sqs.close()
    return resources.queues["JobsQueue"]


def forget(aws: Emulated, queue_url: str) -> None:
    """What a restart does to moto: every table and queue gone."""
    dynamodb, sqs = client("dynamodb", aws.endpoint), client("sqs", aws.endpoint)
    for name in dynamodb.list_tables()["TableNames"]:
        if name.startswith(aws.prefix + "-"):
            dynamodb.delete_table(TableName=name)
    for url in sqs.list_queues(QueueNamePrefix=aws.prefix + "-").get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    dynamodb.close()
    sqs.close()


def contents(aws: Emulated) -> tuple[Any, list[str]]:
    resources = provision(aws.endpoint, prefix=aws.prefix)
    dynamodb, sqs = client("dynamodb", aws.endpoint), client("sqs", aws.endpoint)
    item = dynamodb.get_item(TableName=aws.table, Key={"pk": ITEM["pk"], "sk": ITEM["sk"]}).get("Item")
    received = sqs.receive_message(QueueUrl=resources.queues["JobsQueue"], MaxNumberOfMessages=10)
    dynamodb.close()
    sqs.close()
    return item, [m["Body"] for m in received.get("Messages", [])]


def test_items_and_queued_messages_come_back(aws: Emulated, definitions: Definitions, tmp_path: Path) -> None:
    queue = seed(aws)
    snapshots = Snapshots(tmp_path / "aws.pickle", aws.aws.gate, definitions)
    assert snapshots.save()
    assert not snapshots.save()  # nothing changed since

    forget(aws, queue)
    restored = Snapshots(tmp_path / "aws.pickle", aws.aws.gate, definitions).restore()
    assert (restored.items, restored.messages, restored.notes) == (1, 1, [])
    assert contents(aws) == (ITEM, ["job-1"])


def test_only_a_change_is_saved_again(aws: Emulated, definitions: Definitions, tmp_path: Path) -> None:
    seed(aws)
    snapshots = Snapshots(tmp_path / "aws.pickle", aws.aws.gate, definitions)
    snapshots.save()
    dynamodb = client("dynamodb", aws.endpoint)
    dynamodb.get_item(TableName=aws.table, Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})  # a read
    assert not snapshots.save()
    dynamodb.put_item(TableName=aws.table, Item={**ITEM, "tenant": {"S": "globex"}})
    dynamodb.close()
    assert snapshots.save()


def test_a_table_whose_definition_changed_starts_empty(
    aws: Emulated, definitions: Definitions, tmp_path: Path
) -> None:
    queue = seed(aws)
    Snapshots(tmp_path / "aws.pickle", aws.aws.gate, definitions).save()
    forget(aws, queue)
    changed = copy.deepcopy(definitions)
    changed.tables[aws.table]["table"]["AttributeDefinitions"].append(
        {"AttributeName": "g", "AttributeType": "S"}
    )

    restored = Snapshots(tmp_path / "aws.pickle", aws.aws.gate, changed).restore()
    assert restored.notes == [f"{aws.table} changed: its saved state was dropped"]
    assert contents(aws) == (None, ["job-1"])


def test_an_unreadable_file_is_moved_aside(aws: Emulated, definitions: Definitions, tmp_path: Path) -> None:
    path = tmp_path / "aws.pickle"
    path.write_bytes(b"not a snapshot")
    restored = Snapshots(path, aws.aws.gate, definitions).restore()
    assert restored.saved_at is None and "moved it to" in restored.summary()
    assert not path.exists() and (tmp_path / "aws.pickle.unreadable").read_bytes() == b"not a snapshot"
