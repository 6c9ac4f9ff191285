"""The jobs worker on moto (the template's table and queue) against the fake upstream: the Lambda
handler's path (WorkerRuntime.handle with SQS events), crash recovery and idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from fakes import FakeUpstream, Reply
from jobkit import (
    ANTHROPIC_REQUEST,
    MESSAGES,
    add_key,
    jobs_config,
    receive_all,
    run,
    settle,
    sqs_event,
    worker_settings,
)
from stagekit import recording
from switchyard.jobs.schema import ChatJobSpec
from switchyard.local.aws import client as aws_client
from switchyard.state.jobs import JobStatus, JobStore
from switchyard.worker.runtime import WorkerRuntime


class CrashOnce:
    """A JobStore whose final write lands, and then the worker 'crashes' once for the named jobs:
    after the provider call and the result write, before the charge (and the webhook). The write
    that stores the result is the one right after the provider call; a crash before it is the
    provider-call window (test_jobs_worker_windows.py)."""

    def __init__(self, inner: JobStore, crash: set[str]) -> None:
        self._inner = inner
        self._crash = set(crash)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def finish(self, tenant: str, job_id: str, *args: Any, **kwargs: Any) -> bool:
        written = await self._inner.finish(tenant, job_id, *args, **kwargs)
        if job_id in self._crash:
            self._crash.discard(job_id)
            raise RuntimeError(f"worker crashed after writing {job_id}")
        return written


@pytest.fixture
def worker(fake_upstream: FakeUpstream, config_file: Any, state_tables: Any) -> Iterator[WorkerRuntime]:
    runtime = WorkerRuntime.start(worker_settings(config_file(jobs_config(fake_upstream)), state_tables))
    for key, tenant in (("key-a", "tenant-a"), ("key-b", "tenant-b")):
        run(add_key(runtime.gateway.state.keys, key, tenant), runtime)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def sqs(state_tables: Any) -> Iterator[Any]:
    client = aws_client("sqs", state_tables.endpoint)
    yield client
    client.close()


def submit(worker: WorkerRuntime, count: int, key_id: str = "key-a", tenant: str = "tenant-a") -> list[str]:
    jobs = worker.gateway.jobs
    assert jobs is not None
    specs = [
        ChatJobSpec.model_validate({"request": {"model": "m", "messages": MESSAGES}}) for _ in range(count)
    ]
    return [r.job_id for r in run(jobs.submit(specs, key_id, tenant), worker)]


def statuses(worker: WorkerRuntime, ids: list[str], tenant: str = "tenant-a") -> list[JobStatus]:
    jobs = worker.gateway.jobs
    assert jobs is not None
    found = [run(jobs.get(tenant, job_id), worker) for job_id in ids]
    return [r.status if r is not None else None for r in found]


def test_a_crash_mid_batch_loses_no_job_and_neither_calls_nor_charges_twice(
    worker: WorkerRuntime, fake_upstream: FakeUpstream, sqs: Any, state_tables: Any
) -> None:
    url = state_tables.queues["JobsQueue"]
    usage = recording(worker.gateway)
    ids = submit(worker, 6)
    jobs = worker.gateway.jobs
    assert jobs is not None
    jobs.store = CrashOnce(jobs.store, {ids[1], ids[4]})

    batch = receive_all(sqs, url, 6)
    failed = settle(sqs, url, batch, worker.handle(sqs_event(batch)))
    assert len(failed) == 2  # the two crashed jobs go back to the queue, the others are done
    assert fake_upstream.count("a") == 6

    redelivered = receive_all(sqs, url, 2)
    assert sorted(m["MessageId"] for m in redelivered) == failed
    assert settle(sqs, url, redelivered, worker.handle(sqs_event(redelivered))) == []

    assert statuses(worker, ids) == [JobStatus.SUCCEEDED] * 6  # no job lost
    assert fake_upstream.count("a") == 6  # none run twice against the upstream
    charged = usage.per_request()
    assert max(charged.values()) == 1  # none charged twice
    # The four that ran through are charged; the crashed two died before their charge (the
    # documented under-charge: at most once, never twice).
    assert sorted(charged) == sorted(set(ids) - {ids[1], ids[4]})
    done = run(jobs.get("tenant-a", ids[1]), worker)
    assert done is not None and done.result is not None
    assert json.loads(done.result)["choices"][0]["message"]["content"]


def test_a_whole_batch_delivered_again_is_skipped(
    worker: WorkerRuntime, fake_upstream: FakeUpstream, sqs: Any, state_tables: Any
) -> None:
    """The invocation died after its jobs were written (Lambda never deleted the messages): the
    redelivered batch finds every job done."""
    url = state_tables.queues["JobsQueue"]
    usage = recording(worker.gateway)
    ids = submit(worker, 4)
    batch = receive_all(sqs, url, 4)
    assert worker.handle(sqs_event(batch)) == {"batchItemFailures": []}
    assert worker.handle(sqs_event(batch)) == {"batchItemFailures": []}
    assert fake_upstream.count("a") == 4
    assert usage.per_request() == dict.fromkeys(ids, 1)


def test_a_message_put_straight_on_the_queue_runs_charged_to_its_key(
    worker: WorkerRuntime, fake_upstream: FakeUpstream, sqs: Any, state_tables: Any
) -> None:
    url = state_tables.queues["JobsQueue"]
    body = {"job_id": "job_direct0001", "key_id": "key-b", "request": {"model": "m", "messages": MESSAGES}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    batch = receive_all(sqs, url, 1)
    assert worker.handle(sqs_event(batch)) == {"batchItemFailures": []}
    assert statuses(worker, ["job_direct0001"], "tenant-b") == [JobStatus.SUCCEEDED]
    assert statuses(worker, ["job_direct0001"], "tenant-a") == [None]  # another tenant's job


def test_a_messages_job_on_the_queue_falls_back_and_stores_an_anthropic_message(
    worker: WorkerRuntime, fake_upstream: FakeUpstream, sqs: Any, state_tables: Any
) -> None:
    url = state_tables.queues["JobsQueue"]
    fake_upstream.script("a", Reply.server_error(503))  # the OpenAI-dialect deployment fails over
    body = {"job_id": "job_messages0001", "key_id": "key-b", "kind": "messages", "request": ANTHROPIC_REQUEST}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    batch = receive_all(sqs, url, 1)
    assert worker.handle(sqs_event(batch)) == {"batchItemFailures": []}
    jobs = worker.gateway.jobs
    assert jobs is not None
    done = run(jobs.get("tenant-b", "job_messages0001"), worker)
    assert done is not None and (done.status, done.kind, done.key_id) == (
        JobStatus.SUCCEEDED,
        "messages",
        "key-b",
    )
    assert done.result is not None
    message = anthropic.types.Message.model_validate_json(done.result)
    assert message.role == "assistant" and message.content[0].type == "text"
    assert (fake_upstream.count("a"), fake_upstream.count("c")) == (1, 1)


def test_a_malformed_message_is_a_batch_item_failure(
    worker: WorkerRuntime, fake_upstream: FakeUpstream
) -> None:
    event = sqs_event([{"MessageId": "m1", "ReceiptHandle": "r1", "Body": '{"job_id": "nope"}'}])
    assert worker.handle(event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert fake_upstream.count() == 0


def test_a_job_that_keeps_failing_lands_in_the_dead_letter_queue(
    worker: WorkerRuntime, fake_upstream: FakeUpstream, sqs: Any, state_tables: Any
) -> None:
    """Every attempt fails transiently: the job goes back to queued, its message is a batch item
    failure each time, and after the template's maxReceiveCount (5) SQS moves it to the DLQ."""
    url, dlq = state_tables.queues["JobsQueue"], state_tables.queues["JobsDeadLetterQueue"]
    fake_upstream.set_default("a", Reply.server_error(503))
    [job_id] = submit(worker, 1)
    for _ in range(5):
        batch = receive_all(sqs, url, 1)
        assert len(batch) == 1
        assert len(settle(sqs, url, batch, worker.handle(sqs_event(batch)))) == 1
    assert receive_all(sqs, url, 1) == []  # the sixth receive finds it gone from the queue
    [dead] = receive_all(sqs, dlq, 1)
    assert json.loads(dead["Body"])["job_id"] == job_id
    assert statuses(worker, [job_id]) == [JobStatus.QUEUED]  # ready to run again once redriven
