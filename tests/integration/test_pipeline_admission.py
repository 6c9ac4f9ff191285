"""Admission cannot leak: a failure or a cancellation at any step of either use case gives back
every key limit, concurrency slot (the key's and the deployment's) and budget reservation.

A :class:`stagekit.Fault` stage sits after every built-in stage; each case arms one of them (on
entering, on the buffered answer, on the first streamed chunk) to raise or to cancel the task,
or makes the provider fail (before the answer, or mid-stream), or has the caller fail after it
got the answer, or leave a stream early. After each case, the key's limits and the budgets are
what they were before it (a request that was admitted keeps counting as one request), and the
next request is admitted by the key (one slot) and served by the first deployment (one slot).
Embeddings requests, the pipeline's second kind of call, run the buffered cases too. The same
runs through HTTP (chat in both dialects, and embeddings) and through the jobs worker (chat,
messages and embeddings jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import running
from fakes import MASTER_KEY
from stagekit import Fault
from switchyard.api.chat import ChatRequest
from switchyard.api.embeddings import EmbeddingRequest
from switchyard.budgets.service import Scope
from switchyard.compose.gateway import Gateway, open_gateway
from switchyard.config.routing import RateLimits
from switchyard.config.settings import RouterSettings
from switchyard.core import Call, StreamEnd, StreamFailed
from switchyard.core.stages import KeyLimitsStage
from switchyard.errors import InvalidRequestError, SwitchyardError
from switchyard.http.app import create_app
from switchyard.keys.auth import Identity
from switchyard.keys.ids import key_hash, key_id
from switchyard.state.ports import KeyRecord
from switchyard.worker.jobs import JobRetryError, JobWorker

BUILTIN = [
    "persona",
    "memory",
    "access",
    "guardrails",
    "cache",
    "last_resort",
    "usage",
    "limits",
    "budgets",
    "guardrails-output",
]
VIRTUAL_KEY = "sk-sy-leaktest-0123456789abcdef"
KEY = key_id(VIRTUAL_KEY)
IDENTITY = Identity(
    KEY,
    "acme",
    limits=RateLimits(rpm=10_000, tpm=10_000_000, max_concurrent=1),
    budgets={"daily": Decimal(1000)},
)
PRICE = {"input": 1000, "output": 2000}  # USD per 1M tokens: every request reserves and costs money


def _config() -> dict[str, Any]:
    return {
        "providers": {"p": {"kind": "mock"}},
        "models": {
            "m": {
                "deployments": [
                    {"provider": "p", "model": "one", "max_concurrent": 1, "price": PRICE},
                    {"provider": "p", "model": "two", "price": PRICE},
                ]
            }
        },
        "strategy": "priority",
        "budgets": {"global": {"daily": 1000}},
        "pipeline": {
            "stages": [
                {"use": "stagekit:Fault", "options": {"name": f"fault-{s}"}, "after": s} for s in BUILTIN
            ]
        },
    }


@pytest.fixture
async def gateway(config_file: Callable[..., Path]) -> AsyncIterator[Gateway]:
    settings = RouterSettings(
        config_path=config_file(_config()), master_key=SecretStr(MASTER_KEY), cache_enabled=False
    )
    gateway = await open_gateway(settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def _faults(gateway: Gateway) -> dict[str, Fault]:
    return {s.name: s for s in gateway.pipeline.stages if isinstance(s, Fault)}


async def _held(gateway: Gateway) -> tuple[str, str, Decimal, Decimal]:
    """Remaining requests and tokens of the key, and what its budget and the global one have
    spent (settlements written first)."""
    [limits] = [s.limits for s in gateway.pipeline.stages if isinstance(s, KeyLimitsStage)]
    headers = limits.headers(KEY)
    await gateway.budgets.flush()
    key_scope = Scope.key(KEY, IDENTITY.budgets, IDENTITY.budget_action)
    whole = gateway.budgets.global_scope()
    assert whole is not None
    rows = await gateway.budgets.status([key_scope, whole])
    return (
        headers.get("x-ratelimit-remaining-requests", ""),
        headers.get("x-ratelimit-remaining-tokens", ""),
        rows[0].spent_usd,
        rows[1].spent_usd,
    )


def _call(*, embeddings: bool = False, **metadata: str) -> Call:
    if embeddings:
        request: ChatRequest | EmbeddingRequest = EmbeddingRequest.model_validate(
            {"model": "m", "input": ["hello", "world"], "dimensions": 8, "metadata": metadata or None}
        )
        return Call(request, KEY, "req-leak", IDENTITY)
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "hello"}],
    }
    if metadata:
        body["metadata"] = metadata
    return Call(ChatRequest.model_validate(body), KEY, "req-leak", IDENTITY)


async def _buffered(gateway: Gateway, call: Call, *, caller_fails: bool = False) -> None:
    async with gateway.pipeline.answer(call):
        if caller_fails:
            raise RuntimeError("the caller failed with the answer in hand (a worker crash)")


async def _streamed(gateway: Gateway, call: Call, *, leave_after: int | None = None) -> None:
    streamed = await gateway.pipeline.stream(call)
    try:
        seen = 0
        async for event in streamed:
            seen += 1
            if leave_after is not None and seen > leave_after:
                return  # the client went away
            if isinstance(event, StreamEnd | StreamFailed):
                break
    finally:
        await streamed.aclose()


async def _run(work: Awaitable[None]) -> None:
    """In a task of its own, as a request is: a cancellation ends that task only."""
    task = asyncio.ensure_future(work)
    with contextlib.suppress(asyncio.CancelledError, SwitchyardError, RuntimeError):
        await task


async def _probe(gateway: Gateway) -> tuple[str, int]:
    """A clean request: admitted by the key, served by the first deployment (both have one slot)."""
    call = _call()
    async with gateway.pipeline.answer(call) as answer:
        return answer.served_by.model, answer.served_by.attempts


def _requests(before: str, after: str) -> int:
    return int(before) - int(after)


def _settled(before: tuple[Any, ...], after: tuple[Any, ...], *, provider_answered: bool) -> None:
    """Nothing held; and a provider's answer (refused after it came) charged to the key's tokens
    and to both budgets alike, nothing else."""
    if not provider_answered:
        assert after[1:] == before[1:], "tokens or budgets leaked"
        return
    assert int(after[1]) < int(before[1]), "the answer's tokens were not charged"
    spent = after[2] - before[2]
    assert spent > 0 and spent == after[3] - before[3], "the answer's cost was not charged once"


CASES: list[tuple[str, str | None, str, dict[str, str]]] = [
    # (use case, fault stage armed or None, hook:mode, provider metadata)
    *[("buffered", f"fault-{s}", f"enter:{m}", {}) for s in BUILTIN for m in ("raise", "cancel")],
    *[("buffered", f"fault-{s}", f"answered:{m}", {}) for s in BUILTIN for m in ("raise", "cancel")],
    *[("streamed", f"fault-{s}", f"enter:{m}", {}) for s in BUILTIN for m in ("raise", "cancel")],
    *[("streamed", f"fault-{s}", f"chunks:{m}", {}) for s in BUILTIN for m in ("raise", "cancel")],
    ("buffered", None, "provider", {"mock_fault": "invalid_request"}),
    ("buffered", None, "provider-cancelled", {"mock_latency_ms": "5000"}),
    ("buffered", None, "caller", {}),
    ("streamed", None, "provider", {"mock_fault": "invalid_request"}),
    ("streamed", None, "provider-cancelled", {"mock_latency_ms": "5000"}),
    ("streamed", None, "mid-stream", {"mock_stream_fault": "drop", "mock_stream_after": "2"}),
    ("streamed", None, "client-gone-at-once", {}),
    ("streamed", None, "client-gone-mid-way", {}),
    # The second kind of call through the same stages: every buffered case again.
    *[
        ("embeddings", f"fault-{s}", f"{h}:{m}", {})
        for s in BUILTIN
        for h in ("enter", "answered")
        for m in ("raise", "cancel")
    ],
    ("embeddings", None, "provider", {"mock_fault": "invalid_request"}),
    ("embeddings", None, "provider-cancelled", {"mock_latency_ms": "5000"}),
    ("embeddings", None, "caller", {}),
]


@pytest.mark.parametrize(("use_case", "fault", "how", "metadata"), CASES)
async def test_nothing_is_held_after_a_failure_anywhere(
    gateway: Gateway, use_case: str, fault: str | None, how: str, metadata: dict[str, str]
) -> None:
    assert await _probe(gateway) == ("one", 1)
    before = await _held(gateway)
    if fault is not None:
        hook, mode = how.split(":")
        _faults(gateway)[fault].arm(hook, mode)
    call = _call(embeddings=use_case == "embeddings", **metadata)
    work: Awaitable[None]
    if use_case in ("buffered", "embeddings"):
        work = _buffered(gateway, call, caller_fails=how == "caller")
    else:
        leave_after = {"client-gone-at-once": 0, "client-gone-mid-way": 2}.get(how)
        work = _streamed(gateway, call, leave_after=leave_after)
    if how.endswith("cancelled"):
        task = asyncio.ensure_future(work)
        await asyncio.sleep(0.2)  # well inside the provider call
        task.cancel()
        work = task
    await _run(work)

    after = await _held(gateway)
    # A provider's answer is charged whatever happened after it (a stage refused it, the client
    # left, the worker failed with it in hand): the provider billed it.
    served = call.record is not None
    assert _requests(before[0], after[0]) in (0, 1)  # an admitted request counts as one
    if not served:
        assert after[1:] == before[1:], f"{use_case} {fault} {how}: tokens or budgets leaked"
    else:  # charged with what it used, exactly the record's tokens and cost
        assert call.record is not None
        assert int(before[1]) - int(after[1]) == call.record.tokens
        assert after[2] - before[2] == call.record.cost_usd == after[3] - before[3]
    assert await _probe(gateway) == ("one", 1), "a concurrency slot was not given back"


async def test_the_cases_reach_every_stage_and_both_use_cases(gateway: Gateway) -> None:
    """The fault stages are where the cases say, after each built-in stage, in order."""
    names = [s.name for s in gateway.pipeline.stages]
    assert names == [n for s in BUILTIN for n in (s, f"fault-{s}")]


async def test_an_embeddings_call_does_not_stream_and_takes_nothing(gateway: Gateway) -> None:
    assert await _probe(gateway) == ("one", 1)
    before = await _held(gateway)
    with pytest.raises(InvalidRequestError, match="do not stream"):
        await gateway.pipeline.stream(_call(embeddings=True))
    assert await _held(gateway) == before  # refused before admission: not even a request counted


@pytest.mark.parametrize("embeddings", [False, True])
async def test_a_call_in_flight_holds_tokens_and_budget(gateway: Gateway, embeddings: bool) -> None:
    """What the cases above see given back is really taken, by either kind of call: a leak
    would show."""
    assert await _probe(gateway) == ("one", 1)  # the key's limits are known from here on
    before = await _held(gateway)
    async with gateway.pipeline.answer(_call(embeddings=embeddings)):
        during = await _held(gateway)
    assert int(during[1]) < int(before[1]), "no tokens held"
    assert during[2] > before[2] and during[3] > before[3], "no budget reserved"


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/messages"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fault", "hook"), [("fault-budgets", "enter"), ("fault-cache", "answered")])
async def test_http_in_both_dialects_gives_back_what_a_failed_request_took(
    config_file: Callable[..., Path], route: str, stream: bool, fault: str, hook: str
) -> None:
    settings = RouterSettings(
        config_path=config_file(_config()), master_key=SecretStr(MASTER_KEY), cache_enabled=False
    )
    app = create_app(settings)
    async with (
        running(app) as asgi,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://gw", headers={"x-api-key": MASTER_KEY}
        ) as client,
    ):
        gateway: Gateway = app.state.gateway
        await gateway.state.keys.put(_key_record())
        body = {
            "model": "m",
            "max_tokens": 20,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {"authorization": f"Bearer {VIRTUAL_KEY}"}
        assert (await client.post(route, json=body, headers=headers)).status_code == 200
        before = await _held(gateway)
        if hook == "answered" and stream:
            hook = "chunks"
        _faults(gateway)[fault].arm(hook, "raise")
        failed = await client.post(route, json=body, headers=headers)
        if stream and hook == "chunks":
            assert failed.status_code == 200 and "error" in failed.text  # an error event ends it
        else:
            assert failed.status_code == 500
        _settled(before, await _held(gateway), provider_answered=hook != "enter")
        again = await client.post(route, json=body, headers=headers)
        assert again.status_code == 200 and again.headers["x-switchyard-model"] == "one"


@pytest.mark.parametrize(("fault", "hook"), [("fault-budgets", "enter"), ("fault-cache", "answered")])
async def test_http_embeddings_give_back_what_a_failed_request_took(
    config_file: Callable[..., Path], fault: str, hook: str
) -> None:
    settings = RouterSettings(
        config_path=config_file(_config()), master_key=SecretStr(MASTER_KEY), cache_enabled=False
    )
    app = create_app(settings)
    async with (
        running(app) as asgi,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://gw") as client,
    ):
        gateway: Gateway = app.state.gateway
        await gateway.state.keys.put(_key_record())
        body = {"model": "m", "input": ["hi", "there"], "dimensions": 8}
        headers = {"authorization": f"Bearer {VIRTUAL_KEY}"}
        assert (await client.post("/v1/embeddings", json=body, headers=headers)).status_code == 200
        before = await _held(gateway)
        _faults(gateway)[fault].arm(hook, "raise")
        failed = await client.post("/v1/embeddings", json=body, headers=headers)
        assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
        _settled(before, await _held(gateway), provider_answered=hook != "enter")
        again = await client.post("/v1/embeddings", json=body, headers=headers)
        assert again.status_code == 200 and again.headers["x-switchyard-model"] == "one"


def _key_record() -> KeyRecord:
    return KeyRecord(
        key_id=KEY,
        key_hash=key_hash(VIRTUAL_KEY),
        tenant="acme",
        limits={"rpm": 10_000, "tpm": 10_000_000, "max_concurrent": 1},
        budgets={"daily": Decimal(1000)},
    )


@pytest.mark.parametrize("kind", ["chat", "messages", "embeddings"])
@pytest.mark.parametrize(("fault", "hook"), [("fault-limits", "enter"), ("fault-usage", "answered")])
async def test_a_job_that_fails_in_the_pipeline_gives_back_what_it_took(
    gateway: Gateway, kind: str, fault: str, hook: str
) -> None:
    await gateway.state.keys.put(_key_record())
    worker = JobWorker(gateway, gateway.jobs)
    messages = [{"role": "user", "content": "hello"}]
    request: dict[str, Any] = {"model": "m", "max_tokens": 20, "messages": messages}
    if kind == "embeddings":
        request = {"model": "m", "input": ["hello"], "dimensions": 8}
    body = {"job_id": "job_leak0001", "key_id": KEY, "kind": kind, "request": request}
    assert (await worker.run(json.dumps(body))).outcome == "ran"
    before = await _held(gateway)
    _faults(gateway)[fault].arm(hook, "raise")
    with pytest.raises(JobRetryError):  # an internal failure: the job goes back to the queue
        await worker.run(json.dumps({**body, "job_id": "job_leak0002"}))
    _settled(before, await _held(gateway), provider_answered=hook != "enter")
    assert (await worker.run(json.dumps({**body, "job_id": "job_leak0003"}))).outcome == "ran"
