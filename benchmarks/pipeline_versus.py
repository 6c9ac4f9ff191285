"""This tree against an earlier one (default: the tree before the request pipeline), same run.

The request pipeline rebuilt the middle of the request path; this benchmark shows what it cost:

- buffered answers at concurrency 1 and 20, and streamed time to first byte at concurrency 1: one
  fake upstream, two local runtimes (this tree's and the earlier tree's, in-memory state), the
  same requests interleaved across the direct upstream and both gateways, so machine drift hits
  all three alike (benchmarks/overhead.py and benchmarks/ttfb.py measure the same way);
- AWS calls per request and the jobs worker's batch time: each tree's own benchmark
  (benchmarks/aws_calls.py, benchmarks/jobs.py) run alternately, twice each.

The earlier tree is checked out with ``git worktree`` under ``.bench/`` (gitignored) and runs on
this checkout's virtualenv (its dependencies are a subset).

    .venv/bin/python benchmarks/pipeline_versus.py [--base 7035a3b] [--requests 2000] [--streams 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import KEY, PY, free_port, start, start_gateway
from overhead import BARE_PROXY, UPSTREAM
from overhead import measure as measure_buffered
from overhead import wait_ready as wait_buffered
from ttfb import UPSTREAM as STREAMING_UPSTREAM
from ttfb import measure as measure_streams
from ttfb import summary
from ttfb import wait_ready as wait_streams

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "7035a3b"  # the last commit before the request pipeline


def checkout(ref: str) -> Path:
    """The earlier tree, checked out once under .bench/."""
    path = ROOT / ".bench" / f"tree-{ref}"
    if not (path / "shared" / "switchyard").is_dir():
        path.parent.mkdir(exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True)
    return path


async def buffered(base: Path, requests: int) -> dict[str, Any]:
    up, head_port, base_port, bare_port = free_port(), free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up}/v1/chat/completions"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        start(stack, [PY, "-c", UPSTREAM, str(up)])
        start_gateway(stack, Path(tmp) / "head", up, head_port)
        start_gateway(stack, Path(tmp) / "base", up, base_port, tree=base)
        start(stack, [PY, "-c", BARE_PROXY, str(bare_port), upstream])
        plain = {"Content-Type": "application/json"}
        auth = {**plain, "Authorization": f"Bearer {KEY}"}
        targets = {
            "direct": (upstream, plain),
            "bare_fastapi_proxy": (f"http://127.0.0.1:{bare_port}/v1/chat/completions", plain),
            "before": (f"http://127.0.0.1:{base_port}/v1/chat/completions", auth),
            "pipeline": (f"http://127.0.0.1:{head_port}/v1/chat/completions", auth),
        }
        for url, headers in targets.values():
            await wait_buffered(url, headers)
        results: dict[str, Any] = {}
        for concurrency in (1, 20):
            for name, sample in (await measure_buffered(targets, requests, concurrency)).items():
                results[f"{name}@c{concurrency}"] = sample.stats()
    return results


async def streamed(base: Path, streams: int) -> dict[str, Any]:
    up, head_port, base_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up}/v1/chat/completions"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        start(stack, [PY, "-c", STREAMING_UPSTREAM, str(up)])
        start_gateway(stack, Path(tmp) / "head", up, head_port)
        start_gateway(stack, Path(tmp) / "base", up, base_port, tree=base)
        plain = {"Content-Type": "application/json"}
        auth = {**plain, "Authorization": f"Bearer {KEY}"}
        targets = {
            "direct": (upstream, plain),
            "before": (f"http://127.0.0.1:{base_port}/v1/chat/completions", auth),
            "pipeline": (f"http://127.0.0.1:{head_port}/v1/chat/completions", auth),
        }
        for url, headers in targets.values():
            await wait_streams(url, headers)
        samples = await measure_streams(targets, streams)
    return {name: summary(values) for name, values in samples.items()}


def own_benchmark(tree: Path, script: str, args: list[str]) -> Any:
    """A tree's own benchmark script, on that tree's package; its JSON result."""
    env = {**os.environ, "PYTHONPATH": str(tree / "shared")}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        json_args = ["--json", str(out)] if script == "aws_calls.py" else []
        done = subprocess.run(
            [PY, str(tree / "benchmarks" / script), *args, *json_args],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,  # aws_calls.py exits 1 when a number misses its target: still a result
        )
        if json_args and out.exists():
            return json.loads(out.read_text())
        if done.returncode and "{" not in done.stdout:
            raise RuntimeError(f"{tree.name}/benchmarks/{script} failed: {done.stderr[-2000:]}")
        # The result is the indented JSON document printed last (EMF lines may come before it).
        start = done.stdout.rindex("\n{\n") + 1
        return json.JSONDecoder().raw_decode(done.stdout, start)[0]


def alternately(base: Path, script: str, args: list[str], rounds: int = 2) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {"before": [], "pipeline": []}
    for _ in range(rounds):
        runs["before"].append(own_benchmark(base, script, args))
        runs["pipeline"].append(own_benchmark(ROOT, script, args))
    return runs


def report(
    buffered_: dict[str, Any], streams: dict[str, Any], calls: dict[str, Any], jobs: dict[str, Any]
) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- load average (1 min) at the end: {load:.2f}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| buffered | concurrency | p50 ms | p99 ms | overhead p50 ms | overhead p99 ms | req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for conc in (1, 20):
        direct = buffered_[f"direct@c{conc}"]
        for name in ("bare_fastapi_proxy", "before", "pipeline"):
            r = buffered_[f"{name}@c{conc}"]
            lines.append(
                f"| {name} | {conc} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                f"{r['p50_ms'] - direct['p50_ms']:.3f} | {r['p99_ms'] - direct['p99_ms']:.3f} "
                f"| {r['rps']:.0f} |"
            )
    lines += [
        "",
        "| streamed TTFB, c1 | p50 ms | p99 ms | overhead p50 ms | overhead p99 ms |",
        "|---|---|---|---|---|",
    ]
    direct = streams["direct"]
    for name in ("before", "pipeline"):
        r = streams[name]
        lines.append(
            f"| {name} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['p50_ms'] - direct['p50_ms']:.3f} | "
            f"{r['p99_ms'] - direct['p99_ms']:.3f} |"
        )
    lines += ["", "| AWS calls per request (Lambda-shaped) | before | pipeline |", "|---|---|---|"]
    for workload in calls["pipeline"][0]:
        if workload not in calls["before"][0]:
            continue
        before = [run[workload]["calls_per_request"] for run in calls["before"]]
        after = [run[workload]["calls_per_request"] for run in calls["pipeline"]]
        lines.append(f"| {workload} | {statistics.median(before):.3f} | {statistics.median(after):.3f} |")
    lines += ["", "| jobs: worker ms per batch of 10, p50 | before | pipeline |", "|---|---|---|"]
    for variant, value in jobs["pipeline"][0].items():
        if variant not in jobs["before"][0] or not isinstance(value, dict) or "p50_ms" not in value:
            continue
        before = [run[variant]["p50_ms"] for run in jobs["before"]]
        after = [run[variant]["p50_ms"] for run in jobs["pipeline"]]
        lines.append(f"| {variant} | {statistics.median(before):.1f} | {statistics.median(after):.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="the earlier tree's commit")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = checkout(args.base)
    buffered_results = asyncio.run(buffered(base, args.requests))
    stream_results = asyncio.run(streamed(base, args.streams))
    calls = alternately(base, "aws_calls.py", ["--requests", "300", "--no-write"])
    jobs = alternately(base, "jobs.py", ["--batches", "10"])
    print(report(buffered_results, stream_results, calls, jobs))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"buffered": buffered_results, "streamed": stream_results, "aws_calls": calls, "jobs": jobs}
            )
        )


if __name__ == "__main__":
    main()
