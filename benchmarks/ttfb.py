"""Streaming time to first byte: the gateway's overhead over calling the upstream directly.

Starts, each in its own process on 127.0.0.1: a fake OpenAI streaming upstream (every chunk at
once, 0 ms) and the Switchyard local runtime pointed at it. At concurrency 1 the same streaming
request goes alternately to the upstream and through the gateway (so both see the same machine
load), and the time from sending it to receiving the first SSE ``data:`` line is measured; the
rest of each stream is read to its end. The overhead is the difference of the percentiles.

    .venv/bin/python benchmarks/ttfb.py [--streams 2000] [--write docs/benchmarks.md] [--json out.json]

``--write`` replaces the "## Streaming time to first byte" section of that file (only it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import tempfile
import textwrap
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from harness import KEY, PY, free_port, start, start_gateway

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Streaming time to first byte"
BODY = json.dumps(
    {
        "model": "bench",
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
        "stream": True,
    }
).encode()

UPSTREAM = textwrap.dedent(
    """
    import json, sys
    from aiohttp import web
    def chunk(delta, finish=None, **extra):
        return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
                "model": "bench-upstream", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra}
    CHUNKS = [chunk({"role": "assistant", "content": ""})]
    CHUNKS += [chunk({"content": w}) for w in ["Hello", " there", ", how", " can", " I", " help?"]]
    CHUNKS += [chunk({}, "stop"), {**chunk({}), "choices": [],
               "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}]
    EVENTS = [b"data: " + json.dumps(c).encode() + b"\\n\\n" for c in CHUNKS] + [b"data: [DONE]\\n\\n"]
    async def chat(request):
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in EVENTS:
            await response.write(event)
        await response.write_eof()
        return response
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


async def wait_ready(url: str, headers: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                await one_stream(session, url, headers)
                return
            except (aiohttp.ClientError, RuntimeError):
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def one_stream(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    """Seconds to the first ``data:`` line; the stream is then read to its end."""
    t0 = time.perf_counter()
    async with session.post(url, data=BODY, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {await response.text()}")
        while not (line := await response.content.readline()).startswith(b"data:"):
            if not line:
                raise RuntimeError(f"{url}: the stream ended without data")
        first = time.perf_counter() - t0
        tail = await response.content.read()
    if not tail.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"{url}: the stream did not end with [DONE]")
    return first


async def measure(targets: dict[str, tuple[str, dict[str, str]]], streams: int) -> dict[str, list[float]]:
    """Concurrency 1, targets interleaved request by request, after a warm-up of each."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url, headers in targets.values():
            for _ in range(200):  # warm-up: pools, caches, lazy imports
                await one_stream(session, url, headers)
        for _ in range(streams):
            for name, (url, headers) in targets.items():
                samples[name].append(await one_stream(session, url, headers))
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    return {
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


async def run(streams: int) -> dict[str, dict[str, float]]:
    up_port, gw_port = free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        start(stack, [PY, "-c", UPSTREAM, str(up_port)])
        start_gateway(stack, Path(tmp), up_port, gw_port)
        plain = {"Content-Type": "application/json"}
        targets = {
            "direct": (upstream_url, plain),
            "switchyard": (
                f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                {**plain, "Authorization": f"Bearer {KEY}"},
            ),
        }
        for url, headers in targets.values():
            await wait_ready(url, headers)
        samples = await measure(targets, streams)
    return {name: summary(values) for name, values in samples.items()}


def report(
    results: dict[str, dict[str, float]], streams: int, load: tuple[float, float], note: str = ""
) -> str:
    direct, gateway = results["direct"], results["switchyard"]
    overhead = {p: gateway[f"{p}_ms"] - direct[f"{p}_ms"] for p in ("p50", "p95", "p99", "mean")}
    verdict = "meets" if overhead["p50"] <= 2.0 else "misses"
    lines = [
        SECTION,
        "",
        "`.venv/bin/python benchmarks/ttfb.py --write docs/benchmarks.md`: a fake OpenAI streaming",
        "upstream (every chunk at once) in its own process and the local runtime pointed at it; at",
        "concurrency 1 the same `stream: true` request goes alternately to the upstream and through the",
        "gateway, timing the first SSE `data:` line (the rest of each stream is read to its end).",
        "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}",
        f"- load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}",
        f"- streams: {streams} per target after 200 warm-up streams each, concurrency 1",
        "",
        "| target | p50 ms | p95 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['p50_ms']:.3f} | {r['p95_ms']:.3f} | {r['p99_ms']:.3f} | {r['mean_ms']:.3f} |"
        )
    lines += [
        f"| **gateway overhead** | **{overhead['p50']:.3f}** | {overhead['p95']:.3f} | {overhead['p99']:.3f} "
        f"| {overhead['mean']:.3f} |",
        "",
        f"Target: overhead <= 2 ms at concurrency 1: this run {verdict} it at p50.",
        "",
    ]
    if note:
        lines += [note, ""]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of ``path`` (up to the next ``## `` heading), or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--write", type=Path, help="replace the section in this markdown file")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--note", default="", help="a paragraph added to the section (e.g. other runs)")
    args = parser.parse_args()
    os.chdir(ROOT)
    before = os.getloadavg()[0]
    results = asyncio.run(run(args.streams))
    text = report(results, args.streams, (before, os.getloadavg()[0]), args.note)
    print(text)
    if args.write:
        write_section(args.write, text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
