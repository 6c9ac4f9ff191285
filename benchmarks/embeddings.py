"""Gateway overhead on ``POST /v1/embeddings`` over calling the upstream directly, in one run.

A fake OpenAI upstream (0 ms) answers one 1536-dimension vector (text-embedding-3-small's size)
as JSON floats or as base64, as asked; the local runtime (in-memory state) is pointed at it. The
same request goes to both, at concurrency 1, in interleaved rounds: floats (the gateway validates
~30 KB of numbers and answers them as they came), base64 (what the official SDKs ask for: a
quarter of the bytes), and a cache hit (the same request again: answered from the cache, no
upstream call). The overhead is the difference of latency percentiles against the direct
upstream; the cache hit is compared with the direct upstream too. Writes its section of
docs/benchmarks.md (``--no-write`` to only print).

    .venv/bin/python benchmarks/embeddings.py [--requests 2000] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import textwrap
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from harness import KEY, PY, free_port, start, start_gateway

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Embeddings overhead"
ROUNDS = 8

UPSTREAM = textwrap.dedent(
    """
    import base64, json, random, struct, sys
    from aiohttp import web
    rng = random.Random(0)
    VECTOR = [rng.uniform(-0.1, 0.1) for _ in range(1536)]
    AS_TEXT = base64.b64encode(struct.pack("<1536f", *VECTOR)).decode()
    def answer(embedding):
        return json.dumps({"object": "list", "model": "bench-upstream",
            "data": [{"object": "embedding", "index": 0, "embedding": embedding}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8}}).encode()
    FLOATS, TEXT = answer(VECTOR), answer(AS_TEXT)
    CHAT = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
        "model": "bench-upstream", "choices": [{"index": 0, "message": {"role": "assistant",
        "content": "Hello there!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}).encode()
    async def embeddings(request):
        body = await request.json()
        raw = TEXT if body.get("encoding_format") == "base64" else FLOATS
        return web.Response(body=raw, content_type="application/json")
    async def chat(request):
        await request.read()
        return web.Response(body=CHAT, content_type="application/json")
    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)

INPUT = "The quick brown fox jumps over the lazy dog."
SKIP = {"no-cache": True, "no-store": True}  # the gateway's own field: never sent upstream
WORKLOADS: dict[str, dict[str, Any]] = {
    # The reference of the same run: a chat completion (what docs/benchmarks.md's first section
    # measures at length).
    "chat (reference)": {"model": "bench", "messages": [{"role": "user", "content": INPUT}]},
    "floats": {"model": "bench", "input": INPUT, "cache": SKIP},
    "base64": {"model": "bench", "input": INPUT, "encoding_format": "base64", "cache": SKIP},
    "cache hit (base64)": {"model": "bench", "input": INPUT, "encoding_format": "base64"},
}


async def timed(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return time.perf_counter() - started


def _path(fields: dict[str, Any]) -> str:
    return "/v1/chat/completions" if "messages" in fields else "/v1/embeddings"


async def run(total: int) -> dict[str, dict[str, list[float]]]:
    up_port, gw_port = free_port(), free_port()
    direct, gateway = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
    plain = {"Content-Type": "application/json"}
    auth = {**plain, "Authorization": f"Bearer {KEY}"}
    samples: dict[str, dict[str, list[float]]] = {w: {"direct": [], "switchyard": []} for w in WORKLOADS}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        start(stack, [PY, "-c", UPSTREAM, str(up_port)])
        start_gateway(stack, Path(tmp), up_port, gw_port)
        async with aiohttp.ClientSession() as session:
            await _wait(session, gateway + "/v1/embeddings", auth)
            for fields in WORKLOADS.values():
                body, path = json.dumps(fields).encode(), _path(fields)
                for _ in range(200):  # warm-up: pools, lazy imports, the cache entry of the hit
                    await timed(session, direct + path, body, plain)
                    await timed(session, gateway + path, body, auth)
            for _ in range(ROUNDS):
                for workload, fields in WORKLOADS.items():
                    body, path = json.dumps(fields).encode(), _path(fields)
                    for _ in range(total // ROUNDS):
                        samples[workload]["direct"].append(await timed(session, direct + path, body, plain))
                        samples[workload]["switchyard"].append(
                            await timed(session, gateway + path, body, auth)
                        )
    return samples


async def _wait(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    body = json.dumps(WORKLOADS["floats"]).encode()
    deadline = time.monotonic() + 30
    while True:
        try:
            await timed(session, url, body, headers)
            return
        except (aiohttp.ClientError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def report(samples: dict[str, dict[str, list[float]]]) -> str:
    count = len(next(iter(samples.values()))["direct"])
    lines = [
        HEADING,
        "",
        "`benchmarks/embeddings.py`: `POST /v1/embeddings` through the local runtime (in-memory state)",
        "against a 0 ms fake upstream answering one 1536-dimension vector, and the same request sent",
        f"to the upstream directly; concurrency 1, {ROUNDS} interleaved rounds, {count} requests each.",
        "",
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| workload | direct p50 / p99 ms | switchyard p50 / p99 ms | overhead p50 / p99 ms |",
        "|---|---|---|---|",
    ]
    for workload, pair in samples.items():
        d50, d99 = pct(pair["direct"], 50), pct(pair["direct"], 99)
        s50, s99 = pct(pair["switchyard"], 50), pct(pair["switchyard"], 99)
        cells = (f"{d50:.2f} / {d99:.2f}", f"{s50:.2f} / {s99:.2f}", f"{s50 - d50:.2f} / {s99 - d99:.2f}")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    mean_floats = statistics.fmean(samples["floats"]["switchyard"]) * 1000
    lines += [
        "",
        "Floats cost the validation of every number (pydantic-core, ~0.25 ms for 1536 in-process) on",
        f"top of the chat path's overhead (gateway mean {mean_floats:.2f} ms here). The upstream here is",
        "`openai_compatible`, so for base64 the gateway asks it for floats and encodes them itself",
        "(~0.4 ms in-process); an `openai` provider is asked for base64 and its answer passes as is.",
        "A cache hit makes no upstream call: its latency is the gateway alone.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace this benchmark's section of the document (or append it); other sections stay."""
    current = doc.read_text(encoding="utf-8")
    lines = current.splitlines(keepends=True)
    start_at = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start_at is None:
        doc.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = next((i for i in range(start_at + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    doc.write_text("".join(lines[:start_at]) + text + ("\n" + tail if tail else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = report(asyncio.run(run(args.requests)))
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
