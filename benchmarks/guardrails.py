"""What regex guardrails cost per KB of prompt, against a same-run baseline.

The gateway is built as the router builds it (``open_gateway``, in-memory state) with one policy
of regex rules only: every PII kind (redact), a 20-word blocklist with two phrases and two
patterns, and shape rules. For prompts of 1 to 64 KB of prose with a few PII values per KB it
times, in one process and interleaved so that drift reaches each alike:

- ``validate``: parsing and validating the request body (``ChatRequest.model_validate_json``),
  which every request pays: the baseline;
- ``input``: the guardrail stage's ``enter`` (policies resolved, checks, redaction);
- ``output``: the output stage on a buffered answer of the same size;
- ``stream``: the output checks on that answer streamed a token (four characters) a chunk,
  against the baseline of writing those chunks as SSE (``stream_write``), which a stream pays;
- ``inactive``: the stage's ``enter`` for a call no policy applies to (its cost on every request).

Operations run in blocks of ten in a row (the first of each not kept), blocks interleaved across
operations so that drift reaches each alike; the collector is paused while a size's operations
run, so that one operation's garbage is not timed in another's. Reported per KB: p50 and p95 of
CPU time (this thread's: the machine is shared, and CPU time is what the work costs whatever else
runs), p50 of wall time, and the CPU p50 as a multiple of the baseline's.
Target: regex guardrails add at most 0.2 ms per KB of prompt at p50.

    .venv/bin/python benchmarks/guardrails.py [--reps 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta
from switchyard.compose.gateway import Gateway, open_gateway
from switchyard.config.settings import GatewaySettings
from switchyard.core import Answer, Call, ServedBy
from switchyard.http.sse import OpenAIWriter

SIZES_KB = (1, 4, 16, 64)
_BLOCK = 10  # runs of one operation in a row; rounds of blocks are interleaved across operations
WORDS = tuple(
    "the quarterly report shows steady growth across regions while support tickets fell and the "  # noqa: SIM905
    "team shipped the new onboarding flow ahead of schedule with fewer regressions than planned".split()
)
PII = ("jane.doe@example.com", "+1 415 555 0132", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
       "10.20.30.40", "123-45-6789", "sk-proj-abcdefghijklmnopqrstuvwx0123")  # fmt: skip
POLICY = {
    "pii": {
        "entities": dict.fromkeys(
            ("email", "phone", "credit_card", "iban", "ssn", "ip_address", "secret"), "redact"
        )
    },
    "blocklist": {
        "words": [f"forbidden{i}" for i in range(20)],
        "phrases": ["launch plan", "internal codename"],
        "patterns": [r"ticket-\d{6}", r"(?:acct|account)#\d{8}"],
        "apply_to": ["input", "output"],
    },
    "shape": {"max_messages": 50, "max_prompt_tokens": 100_000, "forbidden_roles": ["developer"]},
}


def prose(kb: int, rng: random.Random) -> str:
    """``kb`` KB of words with one PII value about every 300 characters."""
    out: list[str] = []
    size = 0
    while size < kb * 1024:
        piece = rng.choice(PII) if rng.random() < 0.04 else rng.choice(WORDS)
        out.append(piece)
        size += len(piece) + 1
    return " ".join(out)[: kb * 1024]


async def _gateway(workdir: Path) -> Gateway:
    config = {
        "providers": {"p": {"kind": "mock"}},
        "models": {"m": {"deployments": [{"provider": "p", "model": "x"}], "guardrails": ["regex"]},
                   "plain": {"deployments": [{"provider": "p", "model": "x"}]}},
        "guardrails": {"policies": {"regex": POLICY}},
    }  # fmt: skip
    path = workdir / "routing.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return await open_gateway(GatewaySettings(config_path=path, master_key=SecretStr("sk-sy-bench")))


async def _time(operation: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(CPU seconds of this thread, wall seconds): the machine is shared, and CPU time is what
    the operation costs whatever else runs; wall time is what a request waits."""
    cpu, wall = time.thread_time(), time.perf_counter()
    await operation()
    return time.thread_time() - cpu, time.perf_counter() - wall


def _completion(text: str) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c",
            "created": 0,
            "model": "x",
            "choices": [{"message": {"role": "assistant", "content": text}}],
        }
    )


def _token_chunks(text: str) -> list[ChatCompletionChunk]:
    """The answer as a provider streams it: about a token (four characters) a chunk."""
    chunks = [ChatCompletionChunk(id="c", choices=[ChunkChoice(delta=Delta(content=text[i : i + 4]))])
              for i in range(0, len(text), 4)]  # fmt: skip
    return [*chunks, ChatCompletionChunk(id="c", choices=[ChunkChoice(delta=Delta(), finish_reason="stop")])]


async def _iterate(chunks: list[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    for chunk in chunks:
        yield chunk


class _Case:
    """One prompt size: the request, its answer, and the operations timed on them."""

    def __init__(self, stages: dict[str, Any], kb: int, rng: random.Random) -> None:
        self.kb = kb
        self.text = prose(kb, rng)
        self.body = json.dumps({"model": "m", "messages": [{"role": "user", "content": self.text}]}).encode()
        self.request = ChatRequest.model_validate_json(self.body)
        self.plain = self.request.model_copy(update={"model": "plain"})
        self.answer = _completion(self.text).to_json()
        self.guard, self.output = stages["guardrails"], stages["guardrails-output"]
        self.chunks = _token_chunks(self.text)
        self.fresh: list[ChatCompletionChunk] = []

    def operations(self) -> dict[str, Callable[[], Awaitable[Any]]]:
        return {
            "validate": self.validate,
            "input": self.enter,
            "output": self.answered,
            "stream_write": self.write,
            "stream": self.streamed,
            "inactive": self.inactive,
        }

    async def validate(self) -> None:
        ChatRequest.model_validate_json(self.body)

    async def enter(self) -> None:
        await self.guard.enter(Call(self.request, "k", "r"))

    async def inactive(self) -> None:
        await self.guard.enter(Call(self.plain, "k", "r"))

    async def answered(self) -> None:
        call = Call(self.request, "k", "r", guardrails=["regex"])
        entry = await self.output.enter(call)
        await entry.answered(call, Answer(self.answer, ServedBy("p", "x", "p/x", 1)))

    async def write(self) -> None:
        """The baseline of a stream: writing its chunks as SSE, which every stream pays."""
        writer = OpenAIWriter(include_usage=False)
        for chunk in self.chunks:
            writer.chunk(chunk)

    async def streamed(self) -> None:
        call = Call(self.request, "k", "r", guardrails=["regex"])
        entry = await self.output.enter(call)
        async for _ in entry.chunks(call, _iterate(self.fresh)):
            pass


async def _block(
    case: _Case, name: str, operation: Callable[[], Awaitable[Any]]
) -> list[tuple[float, float]]:
    """``_BLOCK`` runs of one operation in a row (the first, warming up, not kept): what a busy
    instance serving requests of one shape sees, without another operation's memory traffic
    between two runs."""
    fresh = (
        [[c.model_copy(deep=True) for c in case.chunks] for _ in range(_BLOCK + 1)]
        if name == "stream"
        else []
    )
    timed: list[tuple[float, float]] = []
    for run in range(_BLOCK + 1):
        if fresh:
            case.fresh = fresh[run]  # a stream's chunks are changed in place by its filters
        sample = await _time(operation)
        if run:
            timed.append(sample)
    return timed


async def measure(reps: int) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        gateway = await _gateway(Path(tmp))
        try:
            stages = {s.name: s for s in gateway.pipeline.stages}
            results: dict[str, Any] = {}
            rounds = max(1, reps // _BLOCK)
            for kb in SIZES_KB:
                case = _Case(stages, kb, rng)
                samples: dict[str, list[tuple[float, float]]] = {name: [] for name in case.operations()}
                # Collections caused by one operation's garbage would land in another's timing:
                # the collector is paused for the size's runs (a few MB of garbage).
                gc.collect()
                gc.disable()
                try:
                    for _ in range(rounds):
                        for name, operation in case.operations().items():
                            samples[name] += await _block(case, name, operation)
                finally:
                    gc.enable()
                results[f"{kb}KB"] = _summary(samples, kb)
            return results
        finally:
            await gateway.aclose()


def _summary(samples: dict[str, list[tuple[float, float]]], kb: int) -> dict[str, Any]:
    def per_kb(values: list[float], q: int) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, len(ordered) * q // 100)] * 1e6 / kb

    baselines = {"stream": "stream_write"}
    out: dict[str, Any] = {}
    for name, pairs in samples.items():
        cpu, wall = [p[0] for p in pairs], [p[1] for p in pairs]
        base = [p[0] for p in samples[baselines.get(name, "validate")]]
        out[name] = {
            "cpu_p50_us_per_kb": round(per_kb(cpu, 50), 2),
            "cpu_p95_us_per_kb": round(per_kb(cpu, 95), 2),
            "wall_p50_us_per_kb": round(per_kb(wall, 50), 2),
            "x_baseline": round(per_kb(cpu, 50) / per_kb(base, 50), 2),
        }
    out["inactive"]["cpu_p50_us_per_request"] = round(
        statistics.median(p[0] for p in samples["inactive"]) * 1e6, 2
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = asyncio.run(measure(args.reps))
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "machine": f"{platform.machine()}, {platform.python_version()}, {platform.platform()}",
        "reps": args.reps,
    }
    print(f"guardrails benchmark {meta['date']} on {meta['machine']}, {args.reps} reps")
    print("| prompt | operation | CPU p50 µs/KB | CPU p95 µs/KB | wall p50 µs/KB | CPU p50 x baseline |")
    print("|---|---|---|---|---|---|")
    for size, ops in results.items():
        for name, row in ops.items():
            cells = (
                row["cpu_p50_us_per_kb"],
                row["cpu_p95_us_per_kb"],
                row["wall_p50_us_per_kb"],
                row["x_baseline"],
            )
            print(f"| {size} | {name} | " + " | ".join(str(c) for c in cells) + " |")
    worst = max(ops["input"]["cpu_p50_us_per_kb"] for ops in results.values())
    inactive = max(ops["inactive"]["cpu_p50_us_per_request"] for ops in results.values())
    print(f"\nregex guardrails on input: at most {worst:.1f} µs per KB (CPU, p50); target ≤ 200 µs/KB")
    print(f"the stage on a call no policy applies to: at most {inactive:.1f} µs per request")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
