"""Helpers for the streaming integration tests: the ASGI gateway with its usage records at hand,
and SSE parsing of what a client received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from conftest import running
from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream
from stagekit import recording, with_recording
from switchyard.accounting import UsageRecord
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app

MESSAGES = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@dataclass
class Served:
    client: httpx.AsyncClient
    records: list[UsageRecord]
    gateway: Any = None  # the app's Gateway, for checks of what it counted


ServedFactory = Callable[..., Awaitable[Served]]


@asynccontextmanager
async def serving(config_file: Callable[..., Path]) -> AsyncIterator[ServedFactory]:
    """``served = await make(config)``: the app with its lifespan running behind an ASGI client
    (master key set), and the usage records its accounting produced."""
    async with AsyncExitStack() as stack:

        async def make(config: Mapping[str, Any], *, request_timeout_s: float = 10.0) -> Served:
            settings = RouterSettings(
                config_path=config_file(with_recording(dict(config))),
                master_key=SecretStr(MASTER_KEY),
                request_timeout_s=request_timeout_s,
                environment={FAKE_KEY_ENV: FAKE_KEY},
                mock_unconfigured=False,
            )
            app = create_app(settings)
            asgi = await stack.enter_async_context(running(app))
            sink = recording(app.state.gateway)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=asgi),
                base_url="http://gateway",
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
                timeout=30,
            )
            return Served(await stack.enter_async_context(client), sink.records, app.state.gateway)

        yield make


@dataclass(frozen=True)
class Event:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(text: str) -> tuple[list[Event], list[str]]:
    """The events of an SSE body, and its comment lines (without the colon)."""
    events: list[Event] = []
    comments: list[str] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append(Event(name, "\n".join(data)))
    return events, comments


def openai_stream(text: str) -> tuple[list[dict[str, Any]], bool, dict[str, Any] | None]:
    """(chunks, ended with [DONE], the error event's error if any) of an OpenAI SSE body."""
    events, _ = parse_sse(text)
    chunks: list[dict[str, Any]] = []
    error: dict[str, Any] | None = None
    done = False
    for event in events:
        assert not done, "nothing may follow [DONE]"
        assert error is None, "nothing may follow an error event"
        if event.data == "[DONE]":
            done = True
            continue
        payload = event.json()
        if "error" in payload:
            error = payload["error"]
        else:
            chunks.append(payload)
    return chunks, done, error


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def cost_of(text: str) -> str:
    _, comments = parse_sse(text)
    [cost] = [c.split("=", 1)[1] for c in comments if c.startswith("x-switchyard-cost-usd=")]
    return cost


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds; a guard against hanging, not a timing assertion."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def two_streaming(
    fake: FakeUpstream,
    kinds: tuple[str, str] = ("openai", "openai"),
    *,
    a_timeout_s: float = 5.0,
    **kwargs: Any,
) -> dict[str, Any]:
    """Model ``m``: ``a/up-a`` then ``b/up-b`` on the fake, with a short stream idle timeout."""
    providers: dict[str, Any] = {
        name: {"kind": kind, "stream_idle_timeout_s": 0.3}
        for name, kind in zip(("a", "b"), kinds, strict=True)
    }
    providers["a"]["timeout_s"] = a_timeout_s
    return fake.routing_config(
        providers=providers,
        models={
            "m": {"deployments": [{"provider": "a", "model": "up-a"}, {"provider": "b", "model": "up-b"}]}
        },
        **kwargs,
    )
