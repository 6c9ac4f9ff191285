"""Calling Amazon Bedrock: the gateway's adapter (httpx on the pooled aiohttp transport, signed
with botocore's SigV4 signer) against a boto3 ``bedrock-runtime`` client, on the same fake
Converse endpoint, in one run on one machine.

A 0 ms fake Converse endpoint (aiohttp, its own process, no signature check so its cost is the
same for every caller) answers ``POST /model/{id}/converse``. Measured per call, one call at a
time (a Lambda instance serves one request at a time), in interleaved rounds:

- ``adapter_sigv4``: ``BedrockProvider.chat`` as the gateway calls it (translation, signing, call,
  parsing into a ChatCompletion);
- ``adapter_bearer``: the same with a Bedrock API key instead of a signature (the signing cost is
  the difference);
- ``boto3_thread``: ``client.converse`` through ``asyncio.to_thread``, as an async gateway would
  have to call the blocking SDK (botocore's validation, serialization, signing, urllib3, parsing);
- ``boto3_direct``: ``client.converse`` called directly (the SDK's best case, blocking the loop);
- ``sign_only``: ``SigV4Signer.sign`` alone.

    .venv/bin/python benchmarks/bedrock_client.py [--calls 3000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import textwrap
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.credentials import Credentials

from harness import PY, free_port, start
from switchyard.api.chat import ChatRequest
from switchyard.providers.aws_sigv4 import SigV4Signer
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.http import build_client

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
PROMPT = "Say hello in one short sentence."
ENDPOINT = textwrap.dedent(
    """
    import json, sys
    from aiohttp import web
    ANSWER = json.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello there!"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16},
        "metrics": {"latencyMs": 0},
    }).encode()
    async def converse(request):
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json",
                            headers={"x-amzn-RequestId": "bench"})
    app = web.Application()
    app.router.add_post("/model/{model}/converse", converse)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)

Call = Callable[[], Awaitable[Any]]


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    mean = statistics.fmean(ordered) * 1000
    return {"p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "mean_ms": mean}


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.post(f"{url}/model/x/converse", content=b"{}")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the fake Converse endpoint did not start")


def callers(url: str) -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    credentials = Credentials("AKIDBENCH", "bench-secret")
    upstream = build_client()  # the production transport: httpx on aiohttp
    signer = SigV4Signer("bedrock", "us-east-1", {}, credentials=credentials)
    adapter = BedrockProvider(upstream, "us-east-1", signer)
    messages = [{"role": "user", "content": PROMPT}]
    request = ChatRequest.model_validate({"model": "bench", "messages": messages})
    signed = Target("br", "br/m", MODEL, url, None, timeout_s=10)
    bearer = Target("br", "br/m", MODEL, url, "bedrock-api-key", timeout_s=10)
    sdk = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=10),
    )
    converse_messages = [{"role": "user", "content": [{"text": PROMPT}]}]

    async def boto3_direct() -> Any:
        return sdk.converse(modelId=MODEL, messages=converse_messages)

    async def sign_only() -> Any:
        return await signer.sign("POST", f"{url}/model/{MODEL}/converse", b'{"messages": []}', {})

    calls: dict[str, Call] = {
        "adapter_sigv4": lambda: adapter.chat(request, signed),
        "adapter_bearer": lambda: adapter.chat(request, bearer),
        "boto3_thread": lambda: asyncio.to_thread(sdk.converse, modelId=MODEL, messages=converse_messages),
        "boto3_direct": boto3_direct,
        "sign_only": sign_only,
    }

    async def close() -> None:
        sdk.close()
        await upstream.aclose()

    return calls, close


async def measure(calls: dict[str, Call], total: int, rounds: int = 10) -> dict[str, list[float]]:
    """Interleaved short rounds, pooled (the shared VM drifts over a minute)."""
    for call in calls.values():
        for _ in range(200):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(total // rounds):
                t0 = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - t0)
    return samples


async def run(total: int) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        start(stack, [PY, "-c", ENDPOINT, str(port)])
        await wait_ready(url)
        calls, close = callers(url)
        try:
            samples = await measure(calls, total)
        finally:
            await close()
    stats = {name: percentiles(latencies) for name, latencies in samples.items()}
    baseline = stats["boto3_thread"]["p50_ms"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "calls": total,
        "stats": stats,
        "adapter_p50_vs_boto3_thread": stats["adapter_sigv4"]["p50_ms"] / baseline,
        "signing_p50_ms": stats["adapter_sigv4"]["p50_ms"] - stats["adapter_bearer"]["p50_ms"],
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.calls))
    print(f"{result['date']}  {result['machine']}  calls per target: {result['calls']}")
    print(f"{'target':<16}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, stat in result["stats"].items():
        print(
            f"{name:<16}{stat['p50_ms']:>9.3f}{stat['p95_ms']:>9.3f}{stat['p99_ms']:>9.3f}{stat['mean_ms']:>9.3f}"
        )
    print(f"adapter p50 / boto3 (thread) p50: {result['adapter_p50_vs_boto3_thread']:.2f}")
    print(f"signing share of the adapter's p50: {result['signing_p50_ms']:.3f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
