"""Helpers for the jobs tests: a worker on moto's tables and queues, SQS events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream
from stagekit import with_recording
from switchyard.config.settings import WorkerSettings
from switchyard.state.ports import KeyRecord, KeyStore

MESSAGES = [{"role": "user", "content": "Summarize the plot of Hamlet."}]


ANTHROPIC_REQUEST = {
    "model": "mx",
    "max_tokens": 128,
    "system": "Answer in one line.",
    "messages": [{"role": "user", "content": "Summarize the plot of Hamlet."}],
}


def jobs_config(fake: FakeUpstream) -> dict[str, Any]:
    """``m``: provider a (OpenAI dialect); ``mx``: a first, then c (Anthropic dialect) on failure."""
    config = fake.routing_config(
        providers={"a": "openai", "c": "anthropic"},
        models={
            "m": {"deployments": [{"provider": "a", "model": "up-a"}]},
            "mx": {"deployments": [{"provider": "a", "model": "up-a"}, {"provider": "c", "model": "up-c"}]},
        },
    )
    return with_recording(config)  # stagekit.recording(gateway): what was charged


async def add_key(store: KeyStore, key_id: str, tenant: str) -> None:
    """A virtual key known by id only (jobs name their key by id; nobody authenticates with it)."""
    await store.put(KeyRecord(key_id=key_id, key_hash="0" * 64, tenant=tenant))


def worker_settings(config: Path, resources: Any, **extra: Any) -> WorkerSettings:
    """A gateway on ``state_tables``'s table and jobs queue (cache off: every job reaches the
    upstream, so call counts show every provider call)."""
    return WorkerSettings(
        config_path=config,
        master_key=SecretStr(MASTER_KEY),
        environment={FAKE_KEY_ENV: FAKE_KEY},
        state_table=resources.tables["StateTable"],
        aws_endpoint_url=resources.endpoint,
        jobs_queue_url=resources.queues["JobsQueue"],
        cache_enabled=False,
        webhook_secret=SecretStr("whsec-test-master"),
        **extra,
    )


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS source gives the worker for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def receive_all(sqs: Any, url: str, expected: int) -> list[dict[str, Any]]:
    """Every visible message, up to ``expected`` (SQS hands out at most 10 per call)."""
    found: list[dict[str, Any]] = []
    for _ in range(20):
        if len(found) >= expected:
            break
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        found.extend(answer.get("Messages", []))
    return found


def settle(sqs: Any, url: str, messages: list[dict[str, Any]], response: dict[str, Any]) -> list[str]:
    """What Lambda does with a batch's answer: delete the successes, make the failures visible
    again at once (instead of after the visibility timeout). Returns the failed message ids."""
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return sorted(failed)


def run(coro: Any, runtime: Any) -> Any:
    """Run a coroutine on the worker runtime's own loop (its clients belong to it)."""
    loop: asyncio.AbstractEventLoop = runtime._loop
    return loop.run_until_complete(coro)
