"""A new feature is a stage class plus configuration: ``stagekit.Uppercase`` is named in the
routing config and changes every answer, on both routes, buffered and streamed, without a line
of route code; a stage that cannot be loaded or placed stops the start-up with its name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import running
from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream
from switchyard.compose.gateway import open_gateway
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app


def _config(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "providers": {"p": {"kind": "mock", "mock": {"content": "quiet words"}}},
        "models": {"m": {"deployments": [{"provider": "p", "model": "one"}]}},
        "pipeline": {"stages": stages},
    }


def _settings(config_file: Callable[..., Path], stages: list[dict[str, Any]]) -> RouterSettings:
    return RouterSettings(config_path=config_file(_config(stages)), master_key=SecretStr(MASTER_KEY))


async def test_a_configured_stage_changes_every_answer_on_every_route(
    config_file: Callable[..., Path],
) -> None:
    stage = {"use": "stagekit:Uppercase", "options": {"header": "x-shouted"}, "after": "cache"}
    app = create_app(_settings(config_file, [stage]))
    body = {"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        running(app) as asgi,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://gw", headers={"x-api-key": MASTER_KEY}
        ) as client,
    ):
        names = [s.name for s in app.state.gateway.pipeline.stages]
        assert names == [
            "persona",
            "memory",
            "access",
            "guardrails",
            "cache",
            "uppercase",
            "last_resort",
            "usage",
            "limits",
            "budgets",
            "guardrails-output",
        ]

        chat = await client.post("/v1/chat/completions", json=body)
        assert chat.json()["choices"][0]["message"]["content"] == "QUIET WORDS"
        assert chat.headers["x-shouted"] == "yes"
        messages = await client.post("/v1/messages", json=body)
        assert messages.json()["content"][0]["text"] == "QUIET WORDS"
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
        assert "QUIET" in streamed.text and "quiet" not in streamed.text
        assert streamed.headers["x-shouted"] == "yes"
        events = await client.post("/v1/messages", json={**body, "stream": True})
        assert "QUIET" in events.text and "quiet" not in events.text


async def test_without_the_stage_nothing_changes(config_file: Callable[..., Path]) -> None:
    app = create_app(_settings(config_file, []))
    body = {"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        running(app) as asgi,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://gw", headers={"x-api-key": MASTER_KEY}
        ) as client,
    ):
        chat = await client.post("/v1/chat/completions", json=body)
        assert chat.json()["choices"][0]["message"]["content"] == "quiet words"
        assert "x-shouted" not in chat.headers


@pytest.mark.parametrize(
    ("stage", "problem"),
    [
        ({"use": "stagekit:NoSuchStage"}, "stagekit:NoSuchStage"),
        ({"use": "no_such_module:Stage"}, "no_such_module"),
        ({"use": "stagekit:Uppercase", "options": {"volume": 11}}, "volume"),
        ({"use": "stagekit:Uppercase", "after": "nowhere"}, "nowhere"),
        ({"use": "stagekit:with_recording"}, "stagekit:with_recording"),
    ],
)
async def test_a_stage_that_cannot_be_made_stops_the_start_up(
    config_file: Callable[..., Path], stage: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await open_gateway(_settings(config_file, [stage]))


async def test_a_stage_can_answer_when_no_provider_could(config_file: Callable[..., Path]) -> None:
    app = create_app(_settings(config_file, [{"use": "stagekit:Apology", "options": {"text": "later"}}]))
    body = {"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    failing = {**body, "metadata": {"mock_fault": "503"}}
    async with (
        running(app) as asgi,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://gw", headers={"x-api-key": MASTER_KEY}
        ) as client,
    ):
        rescued = await client.post("/v1/chat/completions", json=failing)
        assert rescued.status_code == 200 and rescued.headers["x-switchyard-fallback"] == "template"
        assert rescued.json()["choices"][0]["message"]["content"] == "later"
        streamed = await client.post("/v1/messages", json={**failing, "stream": True})
        assert streamed.status_code == 200 and '"later"' in streamed.text
        assert streamed.headers["x-switchyard-fallback"] == "template"
        refused = await client.post(
            "/v1/chat/completions", json={**body, "metadata": {"mock_fault": "invalid_request"}}
        )
        assert refused.status_code == 200  # the stage answers every failure it is given: its choice
        plain = await client.post("/v1/chat/completions", json=body)
        assert "x-switchyard-fallback" not in plain.headers


@pytest.mark.parametrize("stream", [False, True])
async def test_what_a_stage_rewrites_is_what_the_provider_gets(
    config_file: Callable[..., Path], fake_upstream: FakeUpstream, stream: bool
) -> None:
    """Buffered and streamed alike, the provider is called with the request as the stages left it
    (a streamed call once sent the request as it came in)."""
    config = fake_upstream.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [{"provider": "a", "model": "up-a"}]}}
    )
    config["pipeline"] = {"stages": [{"use": "stagekit:SystemNote", "options": {"note": "Be brief."}}]}
    settings = RouterSettings(
        config_path=config_file(config),
        master_key=SecretStr(MASTER_KEY),
        environment={FAKE_KEY_ENV: FAKE_KEY},
    )
    app = create_app(settings)
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        running(app) as asgi,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://gw", headers={"x-api-key": MASTER_KEY}
        ) as client,
    ):
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    [sent] = fake_upstream.calls("a")
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]
    assert sent.body["messages"][0]["content"] == "Be brief."
