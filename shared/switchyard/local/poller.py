"""The jobs worker under ``make run``: polls the emulated jobs queue and hands each batch to the
same :class:`~switchyard.worker.runtime.WorkerRuntime` that Lambda's handler uses, then does what
Lambda's SQS event source does with the answer: deletes the messages that succeeded and leaves
the reported failures to come back.

It runs in a thread of its own: the worker runtime owns its event loop (as in Lambda), apart
from the loop uvicorn serves the API on.
"""

from __future__ import annotations

import threading
from typing import Any

from switchyard.config.local import LocalSettings
from switchyard.observability import logger
from switchyard.worker.runtime import WorkerRuntime

# Locally a failed job comes back after this many seconds (the template's 1800 s suits Lambda).
RETRY_AFTER_S = 5


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Received messages as the SQS event Lambda would give the worker."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class QueuePoller:
    def __init__(self, settings: LocalSettings, queue_url: str, *, wait_s: int = 1) -> None:
        self._settings = settings
        self._url = queue_url
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobs-poller", daemon=True)
        self._runtime: WorkerRuntime | None = None

    def spent_usd(self) -> float:
        """What the jobs cost so far (the worker's CostUSD): the local cost alarms add it up."""
        runtime = self._runtime
        return 0.0 if runtime is None else runtime.gateway.metrics.requests.cost_total_usd

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait_s + 10)

    def _run(self) -> None:
        from switchyard.local.aws import client

        runtime = self._runtime = WorkerRuntime.start(self._settings)
        assert self._settings.aws_endpoint_url is not None
        sqs = client("sqs", self._settings.aws_endpoint_url)
        try:
            arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]
            while not self._stop.is_set():
                try:
                    self._poll_once(runtime, sqs, arn["QueueArn"])
                except Exception:
                    logger.exception("jobs poller failed; polling again")
                    self._stop.wait(1.0)
        finally:
            sqs.close()
            runtime.close()

    def _poll_once(self, runtime: WorkerRuntime, sqs: Any, arn: str) -> None:
        answer = sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_s,
            VisibilityTimeout=RETRY_AFTER_S,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return
        failed = {f["itemIdentifier"] for f in runtime.handle(sqs_event(messages, arn))["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
