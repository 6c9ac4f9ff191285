"""The jobs worker: SQS (ReportBatchItemFailures) → switchyard.jobs, one batch per invocation.

Settings are read and the gateway is built once per cold start, on the first invocation (nothing
happens at import time); every job runs through the same routing core as the router.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchyard.config.settings import WorkerSettings
from switchyard.observability import logger
from switchyard.worker.runtime import WorkerRuntime

_runtime: WorkerRuntime | None = None


def _worker() -> WorkerRuntime:
    global _runtime
    if _runtime is None:
        _runtime = WorkerRuntime.start(WorkerSettings.from_env())
    return _runtime


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _worker().handle(event)
