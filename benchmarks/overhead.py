"""Gateway overhead over calling the upstream directly, in one run on one machine.

Starts, each in its own process on 127.0.0.1: a fake OpenAI upstream (0 ms), the Switchyard local
runtime pointed at it, and a bare FastAPI pass-through proxy (validate, one upstream call, return)
as the baseline a gateway cannot beat. The same workload is sent to each; overhead is the
difference of latency percentiles against the direct upstream, throughput is requests/s at
concurrency 20. Also records the router's cold import time against ``import boto3`` + one client.

    .venv/bin/python benchmarks/overhead.py [--requests 3000] [--json out.json]
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
import textwrap
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from harness import KEY, PY, free_port, start, start_gateway

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
).encode()

UPSTREAM = textwrap.dedent(
    """
    import json, sys
    from aiohttp import web
    ANSWER = json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-upstream",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }).encode()
    async def chat(request):
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)

# The baseline: what any FastAPI proxy must do at least (parse+validate, one pooled upstream call).
BARE_PROXY = textwrap.dedent(
    """
    import sys
    import httpx, uvicorn
    from fastapi import FastAPI, Request, Response
    from httpx_aiohttp import AiohttpTransport
    from pydantic import BaseModel
    class Msg(BaseModel):
        role: str
        content: str
    class Req(BaseModel):
        model: str
        messages: list[Msg]
    upstream = sys.argv[2]
    app = FastAPI()
    client = None
    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        global client
        if client is None:
            client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=30)
        body = Req.model_validate_json(await request.body())
        r = await client.post(upstream, json=body.model_dump())
        return Response(r.content, media_type="application/json")
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


async def wait_ready(url: str, headers: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, data=BODY, headers=headers) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class Sample:
    """Latencies and busy time of one target, pooled over the interleaved rounds."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0

    def stats(self) -> dict[str, float]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

        return {
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "mean_ms": statistics.fmean(ordered) * 1000,
            "rps": len(ordered) / self.elapsed,
            "errors": self.errors,
        }


async def load(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    total: int,
    concurrency: int,
    into: Sample,
) -> None:
    """Closed-loop load: ``concurrency`` workers each send the next request when the last returns."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            async with session.post(url, data=BODY, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    into.errors += 1
            into.latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    into.elapsed += time.perf_counter() - started


async def measure(
    targets: dict[str, tuple[str, dict[str, str]]], total: int, concurrency: int, rounds: int = 8
) -> dict[str, Sample]:
    """Short rounds of each target in turn, pooled: on a shared 2-core VM the machine drifts over a
    minute, and measuring one target after another would hand that drift to whichever came last."""
    samples = {name: Sample() for name in targets}
    connector = aiohttp.TCPConnector(limit=concurrency * len(targets))
    async with aiohttp.ClientSession(connector=connector) as session:
        for url, headers in targets.values():  # warm-up: pools, caches, lazy imports
            for _ in range(200):
                async with session.post(url, data=BODY, headers=headers) as r:
                    await r.read()
        for _ in range(rounds):
            for name, (url, headers) in targets.items():
                await load(session, url, headers, total // rounds, concurrency, samples[name])
    return samples


def cold_import(code: str, runs: int = 5) -> float:
    """Median wall time of a fresh interpreter running ``code``, minus an empty interpreter."""

    def once(snippet: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", snippet], check=True, env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
        return time.perf_counter() - t0

    empty = statistics.median(once("pass") for _ in range(runs))
    return statistics.median(once(code) for _ in range(runs)) - empty


ROUTER_IMPORT = (
    "import sys; sys.path.insert(0, 'functions/router'); import app; a = app.create_app(); "
    "assert 'openai' not in sys.modules and 'anthropic' not in sys.modules"
)
BOTO3_IMPORT = "import boto3; boto3.client('dynamodb')"


async def run(total: int) -> dict[str, Any]:
    up_port, gw_port, bare_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        start(stack, [PY, "-c", UPSTREAM, str(up_port)])
        start_gateway(stack, Path(tmp), up_port, gw_port)
        start(stack, [PY, "-c", BARE_PROXY, str(bare_port), upstream_url])
        auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        plain = {"Content-Type": "application/json"}
        targets = {
            "direct": (upstream_url, plain),
            "bare_fastapi_proxy": (f"http://127.0.0.1:{bare_port}/v1/chat/completions", plain),
            "switchyard": (f"http://127.0.0.1:{gw_port}/v1/chat/completions", auth),
        }
        for url, headers in targets.values():
            await wait_ready(url, headers)
        results: dict[str, Any] = {}
        for concurrency in (1, 20):
            for name, sample in (await measure(targets, total, concurrency)).items():
                results[f"{name}@c{concurrency}"] = sample.stats()
    return results


def overhead(results: dict[str, Any], name: str, concurrency: int) -> dict[str, float]:
    base, other = results[f"direct@c{concurrency}"], results[f"{name}@c{concurrency}"]
    return {p: other[f"{p}_ms"] - base[f"{p}_ms"] for p in ("p50", "p95", "p99")}


def report(results: dict[str, Any], imports: dict[str, float]) -> str:
    lines = [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}",
        "",
        "| target | concurrency | p50 ms | p95 ms | p99 ms | req/s | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        name, conc = key.split("@c")
        lines.append(
            f"| {name} | {conc} | {r['p50_ms']:.3f} | {r['p95_ms']:.3f} | {r['p99_ms']:.3f} "
            f"| {r['rps']:.0f} | {r['errors']} |"
        )
    lines += [
        "",
        "| overhead over direct | concurrency | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for name in ("bare_fastapi_proxy", "switchyard"):
        for conc in (1, 20):
            o = overhead(results, name, conc)
            lines.append(f"| {name} | {conc} | {o['p50']:.3f} | {o['p95']:.3f} | {o['p99']:.3f} |")
    sy, bare = results["switchyard@c20"]["rps"], results["bare_fastapi_proxy@c20"]["rps"]
    lines += [
        "",
        f"throughput at c20: switchyard {sy:.0f} req/s = {sy / bare:.2f} x "
        f"the bare FastAPI proxy ({bare:.0f})",
        f"cold import: router {imports['router'] * 1000:.0f} ms, "
        f"boto3 + client {imports['boto3'] * 1000:.0f} ms, "
        f"ratio {imports['router'] / imports['boto3']:.2f} (target <= 2.5)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.chdir(ROOT)
    results = asyncio.run(run(args.requests))
    imports = {"router": cold_import(ROUTER_IMPORT), "boto3": cold_import(BOTO3_IMPORT)}
    print(report(results, imports))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "imports": imports}, indent=2))


if __name__ == "__main__":
    main()
