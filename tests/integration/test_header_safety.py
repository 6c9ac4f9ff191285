"""Every value echoed into a response header is safe: against a real uvicorn server (the bug was
uvicorn closing the connection, without any response, when a caller's model name with CR/LF was
echoed into ``x-switchyard-model``), control characters and non-Latin-1 text are sent to every
route, buffered and streamed, and a response always arrives: 400 in the route's own error shape,
before any upstream call, where the value would have reached a header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import SecretStr
from streaming_checks import MESSAGES, wait_for

from conftest import ConfigFile, free_port
from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream
from switchyard.api.headers import header_safe
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app

# What a model name (or any echoed value) may not carry: line breaks (header injection), NUL, an
# escape sequence, DEL, a C1 control, and text outside Latin-1 (Starlette encodes headers in it).
BAD = [
    "\r\nx-injected: 1",
    "\n",
    "\r",
    "\x00",
    "\x1b[2J",
    "\t",
    "\x7f",
    "\x85",
    "-\u6a21\u578b",
]
HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture
async def server(fake_upstream: FakeUpstream, config_file: ConfigFile) -> AsyncIterator[tuple[str, FastAPI]]:
    """The gateway under uvicorn on 127.0.0.1, both dialects' wildcards routed to the fake upstream."""
    config = fake_upstream.routing_config(
        providers={"o": "openai", "c": "anthropic"},
        wildcards=[{"pattern": "gpt-*", "provider": "o"}, {"pattern": "claude-*", "provider": "c"}],
    )
    settings = RouterSettings(
        config_path=config_file(config),
        master_key=SecretStr(MASTER_KEY),
        environment={FAKE_KEY_ENV: FAKE_KEY},
        mock_unconfigured=False,
    )
    app = create_app(settings)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", ws="none")
    )
    task = asyncio.create_task(uv.serve())
    try:
        await wait_for(lambda: uv.started or task.done())
        assert uv.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}", app
    finally:
        uv.should_exit = True
        await task


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10, headers=HEADERS) as http:
        yield http


def body_for(route: str, model: str, stream: bool) -> dict[str, Any]:
    if route == "/v1/messages":
        return {"model": model, "max_tokens": 16, "messages": MESSAGES, "stream": stream}
    return {"model": model, "messages": MESSAGES, "stream": stream}


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Sends as a streaming client would (the answer read as it arrives); raises if no response
    arrives."""
    async with client.stream("POST", url, content=json.dumps(body).encode()) as response:
        raw = await response.aread()
        return response.status_code, json.loads(raw)


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize(
    ("route", "prefix"),
    [("/v1/chat/completions", "gpt-4o"), ("/chat/completions", "gpt-4o"), ("/v1/messages", "claude-x")],
)
async def test_a_model_name_that_cannot_be_a_header_is_refused_in_the_routes_shape(
    server: tuple[str, FastAPI],
    client: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    route: str,
    prefix: str,
    stream: bool,
) -> None:
    url, _ = server
    for bad in BAD:
        status, error = await post(client, url + route, body_for(route, prefix + bad, stream))
        assert status == 400, (bad, error)
        if route == "/v1/messages":
            assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        else:
            assert error["error"]["param"] == "model" and error["error"]["type"] == "invalid_request_error"
        assert bad not in json.dumps(error)  # the message names the field, never echoes the value
    assert fake_upstream.count() == 0  # refused before anything was routed or paid for


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize(("route", "name"), [("/v1/chat/completions", "o"), ("/v1/messages", "c")])
async def test_a_latin1_model_name_is_served_and_echoed(
    server: tuple[str, FastAPI],
    client: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    route: str,
    name: str,
    stream: bool,
) -> None:
    """The check is not a blanket refusal of non-ASCII: what a header can carry is served."""
    url, _ = server
    model = ("gpt-4o" if name == "o" else "claude-x") + "-caf\u00e9"
    async with client.stream("POST", url + route, json=body_for(route, model, stream)) as response:
        await response.aread()
    assert response.status_code == 200
    assert response.headers["x-switchyard-model"].encode("latin-1").decode("latin-1") == model
    assert [c.body["model"] for c in fake_upstream.calls(name)] == [model]


async def test_every_route_answers_whatever_it_is_sent(
    server: tuple[str, FastAPI], client: httpx.AsyncClient
) -> None:
    """Each operation of the API (from its OpenAPI document), with the bad values in its path,
    its query and a body: a response arrives, and it is never a server error."""
    url, app = server
    operations = [
        (method.upper(), path, op)
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    ]
    assert len(operations) >= 20
    answered = 0
    for method, path, op in operations:
        for bad in BAD:
            target = path
            params: dict[str, str] = {}
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    target = target.replace("{" + parameter["name"] + "}", quote("x" + bad, safe=""))
                elif parameter["in"] == "query":
                    params[parameter["name"]] = "x" + bad
            body = {
                "model": "gpt-4o" + bad,
                "name": "n" + bad,
                "tenant": "t" + bad,
                "models": ["gpt-4o" + bad],
                "kind": "chat",
                "request": {"model": "gpt-4o" + bad, "messages": MESSAGES},
                "jobs": [{"kind": "chat", "request": {"model": "gpt-4o" + bad, "messages": MESSAGES}}],
                "messages": MESSAGES,
            }
            content = json.dumps(body).encode() if method in ("POST", "PUT", "PATCH") else None
            response = await client.request(method, url + target, params=params, content=content)
            assert response.status_code < 500, (method, path, repr(bad), response.text)
            assert all(header_safe(v) for v in response.headers.values())
            answered += 1
    assert answered == len(operations) * len(BAD)


async def test_control_characters_in_request_headers_still_get_an_answer(server: tuple[str, FastAPI]) -> None:
    """Headers the gateway reads (and, for x-request-id, echoes), sent raw: httpx would refuse to."""
    url, _ = server
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": "gpt-4o", "messages": MESSAGES}).encode()
    for header in (b"x-request-id: abc\x01def", b"x-switchyard-cache-ttl: 6\x010", b"x-request-id: \x7f"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
            + f"authorization: Bearer {MASTER_KEY}\r\n".encode()
            + header
            + b"\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 "), (header, answer[:200])
        assert int(status_line.split()[1]) < 500, (header, status_line)
        assert b"abc\x01def" not in answer


async def test_a_header_value_nothing_checked_is_left_out_not_a_dropped_connection(
    server: tuple[str, FastAPI], client: httpx.AsyncClient
) -> None:
    """The last guard (the request middleware): a route that built a header from an unchecked
    value still answers, without that header."""
    url, app = server

    async def leaky() -> Response:
        return Response(
            b"{}", media_type="application/json", headers={"x-echo": "a\r\nx-injected: 1", "x-ok": "1"}
        )

    app.add_api_route("/v1/leaky", leaky, methods=["GET"])
    response = await client.get(url + "/v1/leaky")
    assert response.status_code == 200 and response.json() == {}
    assert "x-echo" not in response.headers and "x-injected" not in response.headers
    assert response.headers["x-ok"] == "1" and response.headers["x-request-id"]
