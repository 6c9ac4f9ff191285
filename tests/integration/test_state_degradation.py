"""DynamoDB trouble degrades, never breaks: throttling, timeouts and an unreachable endpoint,
injected under a running app, leave every request served from in-memory fallbacks, each
degradation counted and logged once per interval; limits can be made to fail closed instead."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from gateway_checks import MESSAGES, assert_openai_error, dep, retry_after
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, dynamo_settings, running
from fakes import MASTER_KEY, FakeUpstream
from statekit import T0, Clock
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app

THROTTLED = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}'
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Faults:
    """A botocore ``before-send`` hook: answers every DynamoDB call with the chosen fault."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.injected = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.mode is None:
            return None
        self.injected += 1
        if self.mode == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        headers = {"content-type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Raw(THROTTLED))


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Open = Callable[..., Any]


@pytest.fixture
def open_app(fake_upstream: FakeUpstream, config_file: ConfigFile, state_tables: Any) -> Open:
    """``async with open_app(fault, **settings) as (client, faults):`` the app on the test's tables
    with ``fault`` ("throttle", "timeout", "unreachable") injected once it is up."""

    @asynccontextmanager
    async def start(
        fault: str, limits: dict[str, Any], **extra: Any
    ) -> AsyncIterator[tuple[httpx.AsyncClient, Faults]]:
        routing = fake_upstream.routing_config(
            providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up-a")]}}
        )
        state = dynamo_settings(state_tables)
        if fault == "unreachable":
            state["aws_endpoint_url"] = f"http://127.0.0.1:{closed_port()}"
        settings = RouterSettings(
            config_path=config_file({**routing, "limits": limits}),
            master_key=SecretStr(MASTER_KEY),
            environment=dict(GATEWAY_ENV),
            state_max_attempts=1,
            **{**state, "state_timeout_s": 0.5, **extra},
        )
        faults = Faults()
        app = create_app(settings, clock=Clock(T0 + 10))
        async with running(app) as asgi:
            app.state.gateway.state.client.meta.events.register("before-send.dynamodb", faults)
            faults.mode = None if fault == "unreachable" else fault
            transport = httpx.ASGITransport(app=asgi)
            headers = {"Authorization": f"Bearer {MASTER_KEY}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", headers=headers
            ) as client:
                yield client, faults

    return start


async def ask(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES, **fields})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.__dict__.get("component", "?")
        for r in caplog.records
        if r.getMessage() == "shared state unavailable: serving from memory"
    ]


@pytest.mark.parametrize("fault", ["throttle", "timeout", "unreachable"])
async def test_requests_are_served_from_memory_when_dynamodb_fails(
    open_app: Open, fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.WARNING)
    async with open_app(fault, {"default": {"rpm": 3}}) as (client, faults):
        first, second = await ask(client, seed=1), await ask(client, seed=1)
        assert (first.status_code, first.headers["x-switchyard-cache"]) == (200, "miss")
        assert (second.status_code, second.headers["x-switchyard-cache"]) == (200, "hit")  # memory cache
        assert (await ask(client)).status_code == 200
        refused = await ask(client)  # the limit still holds, per instance
        assert_openai_error(refused, fake_upstream, 429, code="rate_limit_exceeded")
        ready = (await client.get("/health/ready")).json()["state"]
    assert fake_upstream.count("a") == 2
    assert ready["degraded"] == ["breakers", "cache", "limits"]
    counters = ready["counters"]
    assert counters["StateDegradedBreakers"] >= 1
    assert counters["StateDegradedCache"] >= 3
    assert counters["StateDegradedLimits"] >= 1
    assert (faults.injected > 0) == (fault != "unreachable")
    # Logged once per component in the interval, however many calls degraded.
    assert sorted(warnings_of(caplog)) == ["breakers", "cache", "limits"]


async def test_limits_can_fail_closed(open_app: Open, fake_upstream: FakeUpstream) -> None:
    async with open_app("throttle", {"default": {"rpm": 100}}, limits_fail_closed=True) as (client, _):
        refused = await ask(client)
        assert_openai_error(refused, fake_upstream, 503, code="limits_unavailable")
        assert retry_after(refused) >= 1
    assert fake_upstream.count("a") == 0


async def test_dynamodb_is_used_again_once_it_answers(open_app: Open) -> None:
    async with open_app("throttle", {"default": {"rpm": 100}}, state_retry_s=0) as (client, faults):
        assert (await ask(client, seed=2)).status_code == 200
        assert (await client.get("/health/ready")).json()["state"]["degraded"] == []  # retry_s=0
        faults.mode = None
        calls_before = (await client.get("/health/ready")).json()["state"]["aws_calls"]
        # The entry stored while degraded lives in this instance's memory only: DynamoDB misses,
        # then has it.
        assert (await ask(client, seed=2)).headers["x-switchyard-cache"] == "miss"
        assert (await ask(client, seed=2)).headers["x-switchyard-cache"] == "hit"
        ready = (await client.get("/health/ready")).json()["state"]
    assert ready["degraded"] == []
    assert ready["aws_calls"] > calls_before
    assert faults.injected > 0


async def test_state_a_route_cannot_do_without_answers_503_not_500(
    fake_upstream: FakeUpstream, gateway: Any
) -> None:
    """Jobs need their store (there is no memory fallback for a job): unreachable, the caller gets
    a 503 to retry, in the API's error shape."""
    from switchyard.state.ports import StateUnavailableError

    client = await gateway(
        fake_upstream.routing_config(
            providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up-a")]}}
        )
    )
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    jobs = transport.app.app.state.gateway.state.jobs  # type: ignore[attr-defined]

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise StateUnavailableError("timed out")

    jobs.create = unreachable
    answer = await client.post("/v1/jobs", json={"request": {"model": "m", "messages": MESSAGES}})
    assert answer.status_code == 503 and retry_after(answer) >= 1
    assert answer.json()["error"]["code"] == "state_unavailable"
