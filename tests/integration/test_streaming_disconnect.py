"""A client that leaves mid-stream, against a real server (uvicorn on a free port, as in the local
runtime and behind the Lambda Web Adapter): the gateway closes the upstream call and records the
partial usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from streaming_checks import MESSAGES, wait_for

from conftest import free_port
from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream, Reply
from stagekit import Recording, recording, with_recording
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app


@pytest.fixture
async def server(fake_upstream: FakeUpstream, config_file) -> AsyncIterator[tuple[str, Recording]]:
    """The gateway served by uvicorn in this event loop; its base URL and usage records."""
    config = fake_upstream.routing_config(
        providers={
            "o": {"kind": "openai", "stream_idle_timeout_s": 20},
            "c": {"kind": "anthropic", "stream_idle_timeout_s": 20},
        },
        models={
            "via-openai": {"deployments": [{"provider": "o", "model": "up-o"}]},
            "via-anthropic": {"deployments": [{"provider": "c", "model": "up-c"}]},
        },
    )
    settings = RouterSettings(
        config_path=config_file(with_recording(config)),
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
        sink = recording(app.state.gateway)
        yield f"http://127.0.0.1:{port}", sink
    finally:
        uv.should_exit = True
        await task


@pytest.mark.parametrize(
    ("model", "name", "route"),
    [
        ("via-openai", "o", "/v1/chat/completions"),
        ("via-anthropic", "c", "/v1/messages"),
    ],
)
async def test_client_disconnect_closes_the_upstream_and_records_partial_usage(
    fake_upstream: FakeUpstream, server: tuple[str, Recording], model: str, name: str, route: str
) -> None:
    url, sink = server
    # A few events, then the upstream keeps the stream open (as a long answer would).
    fake_upstream.script(name, Reply.stream(stall_after=5, stall_s=30))
    body = {"model": model, "max_tokens": 100, "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}

    async with (
        httpx.AsyncClient(trust_env=False, timeout=10) as client,
        client.stream("POST", url + route, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if "Hello" in line:
                break  # the first token arrived: leave, closing the connection

    await wait_for(lambda: fake_upstream.stream_ends(name) == ["client_closed"])
    await wait_for(lambda: len(sink.records) == 1)
    [record] = sink.records
    assert record.streamed and record.partial
    assert record.deployment_id == f"{name}/up-{name}"
    assert record.usage.completion_tokens >= 1  # estimated from what was streamed
    assert record.usage.prompt_tokens >= 1
    assert fake_upstream.count(name) == 1
