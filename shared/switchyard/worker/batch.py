"""One SQS batch → the jobs in it, run concurrently, with partial batch failures reported.

Powertools' :class:`AsyncBatchProcessor` does the bookkeeping (``batchItemFailures`` for
``ReportBatchItemFailures``); its own ``async_process`` starts an event loop per batch outside
Lambda, but the gateway's HTTP clients belong to the worker's loop, so the records are gathered
on the running loop here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from switchyard.worker.jobs import JobWorker


class _Processor(AsyncBatchProcessor):
    async def gather(self) -> None:
        await asyncio.gather(*(self._async_process_record(record) for record in self.records))


async def process_batch(worker: JobWorker, event: dict[str, Any]) -> dict[str, Any]:
    """The Lambda answer: ``{"batchItemFailures": [{"itemIdentifier": <message id>}, ...]}``."""

    async def handle(record: SQSRecord) -> None:
        await worker.run(record.body)

    # A batch where every job failed is reported like any other (every item listed), not raised.
    processor = _Processor(EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(event.get("Records", []), handle):
        await processor.gather()
    return dict(processor.response())
