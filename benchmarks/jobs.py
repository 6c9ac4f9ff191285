"""Async jobs: worker time of one SQS batch of 10 jobs against a 200 ms fake upstream.

The jobs of a batch run concurrently, so a batch should take about one upstream call, not ten:
target < 300 ms of worker time (``WorkerRuntime.handle``, the Lambda handler's whole body) per
batch of 10. Measured twice: state in DynamoDB on an embedded moto server (a claim and a
final write per job, as in Lambda; moto applies one request at a time), and in memory.

    .venv/bin/python benchmarks/jobs.py [--batches 20] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
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
from switchyard.config.settings import RouterSettings  # noqa: E402
from switchyard.keys.ids import key_id  # noqa: E402
from switchyard.local.aws import moto_server, provision  # noqa: E402
from switchyard.local.poller import sqs_event  # noqa: E402
from switchyard.state.dynamodb import DynamoSettings, Table, build_client  # noqa: E402
from switchyard.state.dynamodb_jobs import DynamoJobStore  # noqa: E402
from switchyard.state.jobs import JobRecord, JobStatus  # noqa: E402
from switchyard.worker.runtime import WorkerRuntime  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Async jobs"
UPSTREAM_S = 0.2
BATCH = 10
TARGET_MS = 300.0
# DynamoDB's in-region single-item latency is single-digit ms; 10 ms is the pessimistic end.
MODELLED_MS = 10.0
MESSAGES = [{"role": "user", "content": "Summarize the plot of Hamlet."}]
MASTER_KEY = "sk-sy-bench"
# The master key's id: its tenant is known without a key-store read (a virtual key's costs one
# read per container every key_cache_ttl_s, amortized over its jobs).
KEY_ID = key_id(MASTER_KEY)


def batch_event(round_no: int) -> dict[str, Any]:
    messages = []
    for i in range(BATCH):
        job_id = f"job_b{round_no:04d}{i:02d}{uuid.uuid4().hex[:8]}"
        body = {"job_id": job_id, "key_id": KEY_ID, "request": {"model": "m", "messages": MESSAGES}}
        messages.append({"MessageId": job_id, "ReceiptHandle": job_id, "Body": json.dumps(body)})
    return sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:bench")


def with_latency(runtime: WorkerRuntime, seconds: float) -> None:
    """Every state call of the in-memory adapters waits ``seconds`` first, concurrently: DynamoDB's
    in-region latency without the emulator's one-request-at-a-time queue."""
    state = runtime.gateway.state
    for store in (
        state.breakers,
        state.limits,
        state.cache,
        state.keys,
        state.usage,
        state.jobs,
        state.budgets,
    ):
        for name in dir(type(store)):
            method = getattr(store, name)
            if name.startswith("_") or not inspect.iscoroutinefunction(method):
                continue

            async def slowed(*args: Any, __method: Any = method, **kwargs: Any) -> Any:
                await asyncio.sleep(seconds)
                return await __method(*args, **kwargs)

            setattr(store, name, slowed)


def measure(settings: RouterSettings, batches: int, latency_s: float = 0.0) -> tuple[list[float], float]:
    """Batch times (ms) and AWS calls per job."""
    runtime = WorkerRuntime.start(settings)
    if latency_s:
        with_latency(runtime, latency_s)
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
    results: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 1)}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        fake = stack.enter_context(FakeUpstream())
        fake.set_default("a", Reply.ok(latency_s=UPSTREAM_S))
        config = Path(tmp) / "routing.yaml"
        routing = fake.routing_config(
            providers={"a": "openai"}, models={"m": {"deployments": [{"provider": "a", "model": "up-a"}]}}
        )
        config.write_text(yaml.safe_dump(routing), encoding="utf-8")
        base = RouterSettings(
            config_path=config,
            master_key=SecretStr(MASTER_KEY),
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
        results[f"memory + {MODELLED_MS:g} ms a state call"] = summary(
            measure(base, batches, MODELLED_MS / 1000)
        )
        results["upstream_calls"] = fake.count("a")
        results["moto_ms"] = asyncio.run(moto_call_times(endpoint, resources.tables["StateTable"]))
    return results


async def moto_call_times(endpoint: str, table: str, jobs: int = 40) -> dict[str, float]:
    """Median time of one claim and one final write on the moto server, one at a time (what the
    batch rows pay per job, queued behind each other)."""
    client = build_client(DynamoSettings(endpoint_url=endpoint))
    store = DynamoJobStore(Table(client, table))
    request = json.dumps({"model": "m", "messages": MESSAGES}).encode()
    claims: list[float] = []
    writes: list[float] = []
    try:
        for i in range(jobs):
            now = time.time()
            seed = JobRecord(
                f"job_probe{i:08d}", KEY_ID, "default", JobStatus.QUEUED, request, now, now, now + 60
            )
            started = time.perf_counter()
            await store.claim(seed, now=now, lease_until=now + 60)
            claims.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await store.finish(
                "default",
                seed.job_id,
                JobStatus.SUCCEEDED,
                now=now,
                expires_at=now + 60,
                attempt=1,
                result=b"{}",
            )
            writes.append((time.perf_counter() - started) * 1000)
    finally:
        client.close()
    return {"claim": round(statistics.median(claims), 1), "final_write": round(statistics.median(writes), 1)}


def section(results: dict[str, Any], batches: int) -> str:
    rows = "\n".join(
        f"| {name} | {r['p50_ms']} | {r['p90_ms']} | {r['max_ms']} | {r['aws_calls_per_job']} | "
        f"{'yes' if r['max_ms'] < TARGET_MS else 'NO'} |"
        for name, r in results.items()
        if isinstance(r, dict) and "p50_ms" in r
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    moto = results["moto_ms"]
    serialized = BATCH * (moto["claim"] + moto["final_write"])
    floor = BATCH * moto["claim"] + UPSTREAM_S * 1000 + BATCH * moto["final_write"]
    return f"""{HEADING}

Worker time (`WorkerRuntime.handle`, the whole body of the Lambda handler) of one SQS batch of
{BATCH} chat jobs put straight on the queue, each against a fake upstream that answers in
{int(UPSTREAM_S * 1000)} ms; {batches} batches after one warm-up batch. Target: under {int(TARGET_MS)} ms per
batch, i.e. the jobs of a batch run concurrently (one after another they would take
{int(BATCH * UPSTREAM_S * 1000)} ms). Each job makes two state writes: its claim, and one final
write of status and result (before the charge; there is no separate checkpoint any more); the
batch's usage aggregate is written once before the invocation ends (so a frozen or reclaimed
instance loses none).

- date: {when}, `.venv/bin/python benchmarks/jobs.py --write`
- machine: {platform.machine()} VM, 2 cores, Python {platform.python_version()}, Linux 6.18 (firecracker),
  load average {results["load_before"]} before the run

| state | p50 ms | p90 ms | max ms | AWS calls per job | under {int(TARGET_MS)} ms |
|---|---|---|---|---|---|
{rows}

Upstream calls: {results["upstream_calls"]} for {3 * (batches + 1) * BATCH} jobs (each job called
the provider exactly once).

Reading the rows: with state in memory a batch takes one upstream call's time plus a few ms, well
under the target. On moto it does not meet it, and the gap is the emulator, not the number of
writes: moto applies one request at a time (`switchyard.local.aws`, so that conditional writes
cannot interleave), and on this machine one claim takes {moto["claim"]} ms there and one final write
{moto["final_write"]} ms (medians, measured alone by the same run; moto parses every expression in
Python, so a request costs with the length of its expressions, ~6 ms at the least). The ten claims
of a batch queue behind each other before the last job's provider call can start, and the ten
final writes queue again as the answers come back: about {BATCH} x {moto["claim"]} +
{int(UPSTREAM_S * 1000)} + {BATCH} x {moto["final_write"]} = {floor:.0f} ms, less the overlap of the
first final writes with the last provider calls. Before this run a job made three writes (claim,
checkpoint, final write; p50 445.7 ms) and its claim was one UpdateItem that could also create the
item (an `if_not_exists()` per field: ~22 ms on moto); now the checkpoint is folded into the final
write and a claim is one short request (a conditional PutItem for a job put straight on the queue,
a short UpdateItem for one stored at submission). The {serialized:.0f} ms of serialized state work
left per batch cannot fit under {int(TARGET_MS)} ms next to a {int(UPSTREAM_S * 1000)} ms upstream call on
moto: even at moto's floor of ~6 ms a request, 20 requests queue for ~120 ms, short of claiming
and finishing a whole batch in one request each (TransactWriteItems), which would trade the
per-job conditional writes for a batch-wide one that fails as a whole. DynamoDB serves the
requests of different jobs concurrently (each job's two writes are sequential, ~5-10 ms each
in-region), so a deployed worker should land near the memory row plus ~20 ms; the third row
models exactly that: the in-memory adapters with every state call delayed by {MODELLED_MS:g} ms,
concurrently, as DynamoDB serves them. Re-measure in the account before relying on it.
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
