"""Async jobs: worker time of one SQS batch of 10 jobs against a 200 ms fake upstream.

The jobs of a batch run concurrently, so a batch should take about one upstream call, not ten:
target < 300 ms of worker time (``WorkerRuntime.handle``, the Lambda handler's whole body) per
batch of 10. Measured twice: state in DynamoDB on an embedded moto server (claim, checkpoint and
final write per job, as in Lambda; moto applies one request at a time), and in memory.

    .venv/bin/python benchmarks/jobs.py [--batches 20] [--write]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes import FAKE_KEY, FAKE_KEY_ENV, FakeUpstream, Reply  # noqa: E402
from switchyard.config.settings import Settings  # noqa: E402
from switchyard.jobs.runtime import WorkerRuntime  # noqa: E402
from switchyard.local.aws import moto_server, provision  # noqa: E402
from switchyard.local.poller import sqs_event  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Async jobs"
UPSTREAM_S = 0.2
BATCH = 10
TARGET_MS = 300.0
MESSAGES = [{"role": "user", "content": "Summarize the plot of Hamlet."}]


def batch_event(round_no: int) -> dict[str, Any]:
    messages = []
    for i in range(BATCH):
        job_id = f"job_b{round_no:04d}{i:02d}{uuid.uuid4().hex[:8]}"
        body = {"job_id": job_id, "key_id": "bench", "request": {"model": "m", "messages": MESSAGES}}
        messages.append({"MessageId": job_id, "ReceiptHandle": job_id, "Body": json.dumps(body)})
    return sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:bench")


def measure(settings: Settings, batches: int) -> tuple[list[float], float]:
    """Batch times (ms) and AWS calls per job."""
    runtime = WorkerRuntime.start(settings)
    try:
        runtime.handle(batch_event(-1))  # warm: connections, leases, first imports
        runtime.gateway.state.calls.reset()
        times = []
        for round_no in range(batches):
            event = batch_event(round_no)
            started = time.perf_counter()
            answer = runtime.handle(event)
            times.append((time.perf_counter() - started) * 1000)
            assert answer == {"batchItemFailures": []}, answer
        return times, runtime.gateway.state.calls.total / (batches * BATCH)
    finally:
        runtime.close()


def summary(measured: tuple[list[float], float]) -> dict[str, float]:
    times, calls = measured
    ordered = sorted(times)
    return {
        "aws_calls_per_job": round(calls, 2),
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def run(batches: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        fake = stack.enter_context(FakeUpstream())
        fake.set_default("a", Reply.ok(latency_s=UPSTREAM_S))
        config = Path(tmp) / "routing.yaml"
        routing = fake.routing_config(
            providers={"a": "openai"}, models={"m": {"deployments": [{"provider": "a", "model": "up-a"}]}}
        )
        config.write_text(yaml.safe_dump(routing), encoding="utf-8")
        base = Settings(
            config_path=config,
            master_key=SecretStr("sk-sy-bench"),
            environment={FAKE_KEY_ENV: FAKE_KEY},
            cache_enabled=False,
        )
        endpoint = stack.enter_context(moto_server())
        resources = provision(endpoint, prefix="bench")
        dynamo = base.model_copy(
            update={"state_table": resources.tables["StateTable"], "aws_endpoint_url": endpoint}
        )
        results["dynamodb (moto)"] = summary(measure(dynamo, batches))
        results["memory"] = summary(measure(base, batches))
        results["upstream_calls"] = fake.count("a")
    return results


def section(results: dict[str, Any], batches: int) -> str:
    rows = "\n".join(
        f"| {name} | {r['p50_ms']} | {r['p90_ms']} | {r['max_ms']} | {r['aws_calls_per_job']} | "
        f"{'yes' if r['max_ms'] < TARGET_MS else 'NO'} |"
        for name, r in results.items()
        if isinstance(r, dict)
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    return f"""{HEADING}

Worker time (`WorkerRuntime.handle`, the whole body of the Lambda handler) of one SQS batch of
{BATCH} chat jobs, each against a fake upstream that answers in {int(UPSTREAM_S * 1000)} ms; {batches}
batches after one warm-up batch. Target: under {int(TARGET_MS)} ms per batch, i.e. the jobs of a
batch run concurrently (one after another they would take {int(BATCH * UPSTREAM_S * 1000)} ms). Each
job still makes its claim, checkpoint and final write. Measured {when} on {platform.machine()},
Python {platform.python_version()}, with `.venv/bin/python benchmarks/jobs.py --write`.

| state | p50 ms | p90 ms | max ms | AWS calls per job | under {int(TARGET_MS)} ms |
|---|---|---|---|---|---|
{rows}

Upstream calls: {results["upstream_calls"]} for {2 * (batches + 1) * BATCH} jobs (each job called
the provider exactly once).

Reading the rows: with state in memory a batch takes one upstream call's time plus a few ms, well
under the target. On moto it does not meet it, and the gap is the emulator: moto applies one
request at a time (`switchyard.local.aws`, so that conditional writes cannot interleave) at a few
ms each, so the ~3 state calls per job of a batch (claim, checkpoint, final write; lease and
breaker reads are amortized) queue behind each other: 30 serialized calls. DynamoDB serves them
concurrently (each job's three calls are sequential, ~5-10 ms each in-region), so a deployed
worker should land near the memory row plus ~30 ms; re-measure in the account before relying on it.
"""


def write(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    start = doc.find(HEADING)
    if start == -1:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(HEADING))
        doc = doc[:start] + text + (doc[end + 1 :] if end != -1 else "")
    DOC.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--write", action="store_true", help=f"replace the '{HEADING}' section of {DOC.name}")
    args = parser.parse_args()
    results = run(args.batches)
    print(json.dumps(results, indent=2))
    text = section(results, args.batches)
    if args.write:
        write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
