"""What the persona and conversation-memory stages cost a request, in one run on one machine.

Part 1, time: the request pipeline alone (``Pipeline.answer``, as the routes run it, with the
request parsed from JSON as they do), in-process, memory state, an upstream that answers at once
(``httpx.MockTransport``). Four workloads interleaved in rounds so the machine's drift reaches
each alike: ``plain`` (no persona, no conversation: what every request pays for the stages'
presence), ``persona`` (a persona by header: its prompt rendered and put first), ``memory`` (a
conversation id: its remembered turns loaded and sent, the exchange saved; 50 conversations in
turn, growing through the run) and ``both``. Reported: per-request latency percentiles, and what
each adds over ``plain`` in the same run.

Part 2, AWS calls: the same through the ASGI app with state on template.yaml's tables in moto,
one request at a time and 2 s of simulated time per request (a Lambda instance's shape), counted
by a botocore hook: a persona (read through the warm cache), a conversation (one strongly
consistent query, the head update and the turns' batch write), and a conversation past its token
bound (compaction: a keys-only query and deletes in the same batch write).

Writes its section of docs/benchmarks.md (``--no-write`` to only print).

    .venv/bin/python benchmarks/stages.py [--requests 2000] [--rounds 5] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Personas and conversation memory"
KEY = "sk-sy-bench"
WORKLOADS = ("plain", "persona", "memory", "both")
CONVERSATIONS = 50
ROUTING: dict[str, Any] = {
    "version": 1,
    "providers": {"up": {"kind": "openai_compatible", "base_url": "http://upstream.test/v1"}},
    "models": {"bench": {"deployments": [{"provider": "up", "model": "bench-upstream"}]}},
}
PERSONA = {
    "system_prompt": "You are the support assistant of {{ company }}. Be brief; today is {{ today }}.",
    "variables": {"company": "Acme"},
    "parameters": {"temperature": 0.3},
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
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello in one sentence."}]})


def upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=ANSWER, headers={"content-type": "application/json"})


def headers_of(workload: str, i: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    if workload in ("persona", "both"):
        headers["x-switchyard-persona"] = "support"
    if workload in ("memory", "both"):
        headers["x-switchyard-conversation"] = f"{workload}-{i % CONVERSATIONS}"
    return headers


async def time_stages(config: Path, requests: int, rounds: int) -> dict[str, list[float]]:
    from switchyard.api.chat import ChatRequest
    from switchyard.api.personas import PersonaIn
    from switchyard.compose.gateway import open_gateway
    from switchyard.config.settings import RouterSettings
    from switchyard.core import Call
    from switchyard.personas.wire import record_of

    settings = RouterSettings(config_path=config, master_key=SecretStr(KEY), cache_enabled=False)
    gateway = await open_gateway(settings, transport=httpx.MockTransport(upstream))
    samples: dict[str, list[float]] = {w: [] for w in WORKLOADS}
    try:
        await gateway.personas.put(
            record_of(PersonaIn.model_validate(PERSONA), "default", "support", now=0, created_at=None)
        )
        pipeline = gateway.pipeline
        seq = 0

        async def one(workload: str, i: int) -> float:
            nonlocal seq
            seq += 1
            started = time.perf_counter()
            request = ChatRequest.model_validate_json(BODY)
            call = Call(request, "k_bench", f"r{seq}", None, headers_of(workload, i))
            async with pipeline.answer(call) as answer:
                assert answer.body
            return time.perf_counter() - started

        for workload in WORKLOADS:  # warm-up: imports, caches, the first conversations
            for i in range(200):
                await one(workload, i)
        samples["idle stages"] = await idle_stages(pipeline.stages)
        per_round = requests // rounds
        for r in range(rounds):
            for workload in WORKLOADS:
                for i in range(per_round):
                    samples[workload].append(await one(workload, r * per_round + i))
    finally:
        await gateway.aclose()
    return samples


async def count_calls(requests: int) -> dict[str, dict[str, Any]]:
    from switchyard.local.aws import moto_server

    runs = (("plain", None), ("persona", None), ("conversation", None), ("conversation past its bound", 60))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint:
        for workload, bound in runs:
            config = Path(tmp) / f"{len(results)}.yaml"
            routing = {**ROUTING, **({"memory": {"max_tokens": bound}} if bound else {})}
            config.write_text(yaml.safe_dump(routing), encoding="utf-8")
            results[workload] = await calls_of(endpoint, config, workload, requests)
    return results


async def calls_of(endpoint: str, config: Path, workload: str, requests: int) -> dict[str, Any]:
    from switchyard.config.settings import RouterSettings
    from switchyard.http.app import create_app
    from switchyard.local.aws import provision

    resources = provision(endpoint, prefix=f"stages{time.monotonic_ns()}")
    settings = RouterSettings(
        config_path=config,
        master_key=SecretStr(KEY),
        state_table=resources.tables["StateTable"],
        aws_endpoint_url=endpoint,
        state_timeout_s=10.0,
    )
    now = [time.time()]
    app = create_app(settings, transport=httpx.MockTransport(upstream), clock=lambda: now[0])
    extra = {"plain": {}, "persona": {"x-switchyard-persona": "support"}}.get(workload)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app)
        auth = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(transport=asgi, base_url="http://gw", headers=auth) as client:
            assert (await client.put("/admin/personas/default/support", json=PERSONA)).status_code == 200
            calls = app.state.gateway.state.calls
            before: dict[str, int] = {}
            for i in range(requests + 20):
                if i == 20:
                    before = calls.by_operation()
                now[0] += 2.0
                headers = extra if extra is not None else {"x-switchyard-conversation": f"c{i % 5}"}
                answered = await client.post("/v1/chat/completions", content=BODY, headers=headers)
                answered.raise_for_status()
            after = calls.by_operation()
    spent = {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}
    return {"calls_per_request": sum(spent.values()) / requests, "calls": spent}


async def idle_stages(stages: Any) -> list[float]:
    """What the persona, memory and last-resort stages cost a call that uses none of them: their
    ``enter`` on a plain call, timed together (one sample per call)."""
    from switchyard.api.chat import ChatRequest
    from switchyard.core import Call

    mine = [s for s in stages if s.name in ("persona", "memory", "last_resort")]
    assert len(mine) == 3
    request = ChatRequest.model_validate_json(BODY)
    found: list[float] = []
    for i in range(20_000):
        call = Call(request, "k_bench", f"idle{i}", None, {"content-type": "application/json"})
        started = time.perf_counter()
        for stage in mine:
            assert await stage.enter(call) is None
        found.append(time.perf_counter() - started)
    return found


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(
    samples: dict[str, list[float]], calls: dict[str, dict[str, Any]], requests: int, rounds: int
) -> str:
    plain50, plain99 = pct(samples["plain"], 0.5), pct(samples["plain"], 0.99)
    lines = [
        HEADING,
        "",
        "`benchmarks/stages.py`: the request pipeline alone (`Pipeline.answer`, the request parsed from",
        "JSON as the routes do), in-process, memory state, an upstream answering at once; workloads",
        f"interleaved in {rounds} rounds, {requests} requests each. `memory` cycles over {CONVERSATIONS}",
        "conversations that grow through the run (default bound: 4000 tokens).",
        "",
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        "",
        "| workload | p50 ms | p99 ms | added over plain, p50 ms | added, p99 ms |",
        "|---|---|---|---|---|",
    ]
    idle = samples.pop("idle stages")
    for workload, values in samples.items():
        p50, p99 = pct(values, 0.5), pct(values, 0.99)
        lines.append(f"| {workload} | {p50:.3f} | {p99:.3f} | {p50 - plain50:+.3f} | {p99 - plain99:+.3f} |")
    lines += [
        "",
        "A call that uses none of them pays the three stages' `enter` (persona, memory, last resort:",
        f"each finds nothing to do): {pct(idle, 0.5) * 1000:.1f} µs at p50, "
        f"{pct(idle, 0.99) * 1000:.1f} µs at p99 (20,000 calls), included in every row above.",
        "",
        "AWS calls per request (moto, one request at a time, 2 s of simulated time each, 20 warm-up",
        "requests; five conversations in turn):",
        "",
        "| workload | calls / request | calls by operation |",
        "|---|---|---|",
    ]
    for workload, r in calls.items():
        ops = ", ".join(f"{op} {n}" for op, n in sorted(r["calls"].items()))
        lines.append(f"| {workload} | {r['calls_per_request']:.3f} | {ops} |")
    lines += [
        "",
        "`plain` is what every request pays anyway (the breaker read, leases). A persona adds one",
        "GetItem per warm-cache period (30 s: one per 15 requests at 2 s each, 0.065 a request). A",
        "conversation adds three: the strongly consistent Query that loads it, the head's",
        "UpdateItem that numbers the new turns, and the BatchWriteItem of the turns; past its token",
        "bound a compaction adds a keys-only Query, its deletes riding in the same batch write.",
        "In AWS each is an in-region round trip of a few milliseconds: the load waits before the",
        "provider is called, the two writes before the answer (or a stream's last event) goes out.",
        "In memory (the first table) the conversation's cost grows with the turns it holds: here up",
        "to ~90 remembered turns, each decoded per request.",
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.find(HEADING)
    if start == -1:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    end = text.find("\n## ", start + len(HEADING))
    rest = text[end + 1 :] if end != -1 else ""
    DOC.write_text(text[:start] + section + ("\n" + rest if rest else ""), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per workload")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="requests per AWS-call workload")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "shared"))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "routing.yaml"
        config.write_text(yaml.safe_dump(ROUTING), encoding="utf-8")
        samples = asyncio.run(time_stages(config, args.requests, args.rounds))
    calls = asyncio.run(count_calls(args.calls))
    section = report(samples, calls, args.requests, args.rounds)
    print(section)
    print({w: round(statistics.mean(v) * 1000, 3) for w, v in samples.items()})
    if not args.no_write:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
