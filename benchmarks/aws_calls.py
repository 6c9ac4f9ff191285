"""AWS calls per request, counted with a botocore hook, against DynamoDB on moto (DESIGN §10).

The gateway serves requests through its ASGI app with its state on the template's tables in an
embedded moto server, and an in-process upstream. Key limits (6000 rpm, 2M tpm) and deployment
limits (10k rpm, 10M tpm) are on, so leases and breakers are paid for. Four workloads:

    cache disabled   every request goes upstream (SWITCHYARD_CACHE=off)
    budgeted         the same under a global daily budget (one reservation write per request,
                     shared by concurrent requests)
    cache hit        the same deterministic request again and again
    cache miss       a new deterministic request each time (looked up, then stored)

and two ways of serving them:

    lambda   one instance, one request at a time, 2 s of (simulated) time per request: the
             production shape (each Lambda instance serves one request at a time; DESIGN §11's
             2 s mean upstream latency)
    busy     one process, 20 requests in flight, real time

Amortized calls per request = calls during the measured requests / measured requests, after a
warm-up. Writes its section of docs/benchmarks.md (``--no-write`` to only print).

    .venv/bin/python benchmarks/aws_calls.py [--requests 600] [--no-write] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## AWS calls per request"
KEY = "sk-sy-bench"
TARGET = 1.2
WARMUP = 50
LAMBDA_STEP_S = 2.0
BUSY_CONCURRENCY = 20

ROUTING = {
    "version": 1,
    "providers": {"up": {"kind": "openai_compatible", "base_url": "http://upstream.test/v1"}},
    "models": {
        "bench": {
            "deployments": [{"provider": "up", "model": "bench-upstream", "rpm": 10_000, "tpm": 10_000_000}]
        }
    },
    "limits": {"default": {"rpm": 6000, "tpm": 2_000_000}},
}
ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench-upstream",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello there!"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
).encode()


class SimClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=ANSWER, headers={"content-type": "application/json"})


def body(workload: str, i: int) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Say hello in one short sentence."}]
    seed = {"cache hit": 0, "cache miss": i}.get(workload)
    return {"model": "bench", "messages": messages, **({"seed": seed} if seed is not None else {})}


async def measure(
    endpoint: str, configs: dict[str, Path], workload: str, mode: str, requests: int
) -> dict[str, Any]:
    config = configs.get(workload, configs["default"])
    from switchyard.config.settings import RouterSettings
    from switchyard.http.app import create_app
    from switchyard.local.aws import provision

    resources = provision(endpoint, prefix=f"bench{time.monotonic_ns()}")
    settings = RouterSettings(
        config_path=config,
        master_key=SecretStr(KEY),
        state_table=resources.tables["StateTable"],
        cache_table=resources.tables["CacheTable"],
        aws_endpoint_url=endpoint,
        cache_enabled=workload not in ("cache disabled", "budgeted"),
    )
    sim = SimClock()
    clock: Callable[[], float] = sim if mode == "lambda" else time.time
    app = create_app(settings, transport=httpx.MockTransport(upstream), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as client:
            calls = app.state.gateway.state.calls

            async def one(i: int) -> None:
                if mode == "lambda":
                    sim.now += LAMBDA_STEP_S
                response = await client.post("/v1/chat/completions", json=body(workload, i))
                response.raise_for_status()

            async def run(start: int, count: int) -> None:
                if mode == "lambda":
                    for i in range(start, start + count):
                        await one(i)
                    return
                queue = iter(range(start, start + count))

                async def worker() -> None:
                    for i in queue:
                        await one(i)

                await asyncio.gather(*(worker() for _ in range(BUSY_CONCURRENCY)))

            await run(0, WARMUP)
            before = calls.by_operation()
            await run(WARMUP, requests)
            after = calls.by_operation()
    spent = {
        op: after.get(op, 0) - before.get(op, 0) for op in after if after.get(op, 0) != before.get(op, 0)
    }
    return {"calls_per_request": sum(spent.values()) / requests, "calls": spent, "requests": requests}


async def run_all(requests: int) -> dict[str, dict[str, Any]]:
    from switchyard.local.aws import moto_server

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint:
        configs = {"default": Path(tmp) / "routing.yaml", "budgeted": Path(tmp) / "budgeted.yaml"}
        configs["default"].write_text(yaml.safe_dump(ROUTING), encoding="utf-8")
        budgeted = {**ROUTING, "budgets": {"global": {"daily": 1_000_000}}}
        configs["budgeted"].write_text(yaml.safe_dump(budgeted), encoding="utf-8")
        for mode in ("lambda", "busy"):
            for workload in ("cache disabled", "budgeted", "cache hit", "cache miss"):
                results[f"{workload}@{mode}"] = await measure(endpoint, configs, workload, mode, requests)
    return results


def report(results: dict[str, dict[str, Any]]) -> str:
    measured = next(iter(results.values()))["requests"]
    lines = [
        HEADING,
        "",
        "`benchmarks/aws_calls.py`: DynamoDB calls counted by a botocore `before-call` hook while the",
        "gateway serves through its ASGI app, state on template.yaml's tables in moto, key limits",
        "(6000 rpm, 2M tpm) and deployment limits (10k rpm, 10M tpm) on, default lease fraction 0.1,",
        f"breaker refresh 2 s, {WARMUP} warm-up requests first. `lambda`: one instance, one request at",
        f"a time, 2 s of simulated time per request; `busy`: one process, {BUSY_CONCURRENCY} in flight,",
        "real time.",
        "",
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"boto3 {version('boto3')}, moto {version('moto')}",
        "",
        f"| workload | serving | calls / request | target | calls by operation ({measured} requests) |",
        "|---|---|---|---|---|",
    ]
    for key, r in results.items():
        workload, mode = key.split("@")
        target = f"<= {TARGET}" if workload in ("cache disabled", "cache hit") else "-"
        ops = ", ".join(f"{op} {n}" for op, n in sorted(r["calls"].items()))
        lines.append(f"| {workload} | {mode} | {r['calls_per_request']:.3f} | {target} | {ops} |")
    lines += [
        "",
        "Uncached, one instance pays a consistent GetItem for its deployment's breaker when its copy",
        "is older than the refresh interval (at most one per request) and one conditional UpdateItem",
        "per lease per scope (a lease lasts the minute window here); a hit pays the cache GetItem and",
        "its key's lease; a miss adds the cache PutItem and the breaker read. Budgeted: one",
        "conditional UpdateItem per request and budgeted scope reserves the worst-case cost and carries",
        "the previous answers' settlements (docs/costs.md); concurrent requests of one process share",
        "it. Budgeted or not, the global budget override and the tenant's budgets are read together",
        "(one BatchGetItem) once per 60 s (0.033 a request at 2 s a request).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace this benchmark's section of the document (or append it); other sections stay."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start is None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    doc.write_text("".join(lines[:start]) + text + ("\n" + tail if tail else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines in the report
    results = asyncio.run(run_all(args.requests))
    text = report(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.no_write:
        write_section(text)
    failed = [
        k for k, r in results.items() if not k.startswith("cache miss") and r["calls_per_request"] > TARGET
    ]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
