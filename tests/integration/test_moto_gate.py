"""The embedded AWS emulation's gate: conditional writes to one item never interleave (as in real
DynamoDB), and an SQS long poll never holds back another call."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from switchyard.local.aws import EmulatedAws, client, emulated_aws, provision

WRITERS = 4
WINS_EACH = 15


@pytest.fixture
def aws() -> Iterator[EmulatedAws]:
    with emulated_aws() as emulated:
        yield emulated


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every 10 µs instead of every 5 ms: interleavings that a check-then-write
    race needs happen within a few dozen writes instead of rarely."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _compare_and_set(endpoint: str, table: str, wins: list[int]) -> None:
    """WINS_EACH increments of one item's version, each a conditional write on the version read."""
    dynamodb = client("dynamodb", endpoint)
    key = {"pk": {"S": "key#contended"}, "sk": {"S": "state"}}
    try:
        for _ in range(WINS_EACH):
            while True:
                item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
                version = int(item["v"]["N"]) if item else 0
                try:
                    dynamodb.update_item(
                        TableName=table,
                        Key=key,
                        UpdateExpression="SET v = :next ADD wins :one",
                        ConditionExpression="attribute_not_exists(v) OR v = :seen",
                        ExpressionAttributeValues={
                            ":next": {"N": str(version + 1)},
                            ":seen": {"N": str(version)},
                            ":one": {"N": "1"},
                        },
                    )
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    continue
                wins.append(version)
                break
    finally:
        dynamodb.close()


def test_conditional_writes_to_one_item_never_interleave(aws: EmulatedAws, fast_switching: None) -> None:
    table = provision(aws.endpoint, prefix="cas").tables["StateTable"]
    wins: list[int] = []
    writers = [
        threading.Thread(target=_compare_and_set, args=(aws.endpoint, table, wins)) for _ in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    # Every win was on a version nobody else won on: no two writes passed the same check.
    assert len(wins) == WRITERS * WINS_EACH
    assert sorted(wins) == list(range(WRITERS * WINS_EACH))
    dynamodb = client("dynamodb", aws.endpoint)
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "key#contended"}, "sk": {"S": "state"}}, ConsistentRead=True
    )["Item"]
    dynamodb.close()
    assert item["wins"]["N"] == item["v"]["N"] == str(WRITERS * WINS_EACH)


def _wait_until_polling(aws: EmulatedAws) -> None:
    deadline = time.monotonic() + 30
    while aws.gate.waiting == 0:
        assert time.monotonic() < deadline, "the long poll never started waiting"
        time.sleep(0.01)


def test_a_long_poll_holds_back_no_other_call_and_wakes_on_a_send(aws: EmulatedAws) -> None:
    resources = provision(aws.endpoint, prefix="poll")
    jobs, dead = resources.queues["JobsQueue"], resources.queues["JobsDeadLetterQueue"]
    table = resources.tables["StateTable"]
    received: list[Any] = []

    def long_poll() -> None:
        sqs = client("sqs", aws.endpoint)
        try:
            received.append(sqs.receive_message(QueueUrl=jobs, WaitTimeSeconds=20, MaxNumberOfMessages=1))
        finally:
            sqs.close()

    poller = threading.Thread(target=long_poll)
    poller.start()
    _wait_until_polling(aws)

    dynamodb, sqs = client("dynamodb", aws.endpoint), client("sqs", aws.endpoint)
    try:
        item = {"pk": {"S": "key#k"}, "sk": {"S": "state"}, "n": {"N": "1"}}
        dynamodb.put_item(TableName=table, Item=item)
        assert dynamodb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})["Item"] == item
        sqs.send_message(QueueUrl=dead, MessageBody="elsewhere")
        # All of that was served while the poll still waited (it waits up to 20 s for a message).
        assert poller.is_alive() and received == []

        sqs.send_message(QueueUrl=jobs, MessageBody="job")
        poller.join(timeout=30)
    finally:
        dynamodb.close()
        sqs.close()
    assert [m["Body"] for m in received[0]["Messages"]] == ["job"]
