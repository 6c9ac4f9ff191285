"""functions/worker/app.py, loaded by path as Lambda loads it: the events/sqs-jobs.json sample
runs through the handler (memory state, the mock provider) and every job succeeds."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fakes import MASTER_KEY
from switchyard.keys.auth import MASTER_TENANT

ROOT = Path(__file__).resolve().parents[2]


def load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("worker_app", ROOT / "functions" / "worker" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "WorkerFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WorkerFunction"
    aws_request_id = "req-1"


def test_importing_the_handler_has_no_side_effects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHYARD_MASTER_KEY", raising=False)
    assert load_worker()._runtime is None  # nothing built, nothing raised without configuration


def test_the_sample_event_runs_through_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("SWITCHYARD_MOCK_UNCONFIGURED", "1")
    for name in ("STATE_TABLE", "CACHE_TABLE", "JOBS_QUEUE_URL", "SWITCHYARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    worker = load_worker()
    event: dict[str, Any] = json.loads((ROOT / "events" / "sqs-jobs.json").read_text(encoding="utf-8"))
    try:
        assert worker.handler(event, Context()) == {"batchItemFailures": []}
        jobs = worker._runtime.gateway.jobs
        for record in event["Records"]:
            message = json.loads(record["body"])
            # The sample's key id is the test master key's: the master tenant owns its jobs.
            found = worker._runtime._loop.run_until_complete(jobs.get(MASTER_TENANT, message["job_id"]))
            assert found is not None and found.status == "succeeded" and found.kind == message["kind"]
        # The batch's usage is in the ledger when the invocation returns, not in a buffer that a
        # frozen or reclaimed instance would lose.
        runtime = worker._runtime
        day = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")
        totals = runtime._loop.run_until_complete(runtime.gateway.state.usage.totals(MASTER_TENANT, day))
        assert sum(t.requests for t in totals) == len(event["Records"])
    finally:
        if worker._runtime is not None:
            worker._runtime.close()
