"""Personas, conversation memory and the last resort for async jobs (which carry no headers: they
name the persona and the conversation in ``metadata``), through the ASGI app (memory state,
in-process queue, the worker driven by hand) against the fake upstream, in both job kinds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from jobkit import jobs_config
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app
from switchyard.jobs.queue import MemoryJobQueue
from switchyard.worker.jobs import JobRetryError, JobWorker

PERSONA = {"system_prompt": "You are {{ who }}.", "variables": {"who": "Acme's assistant"}}
TEMPLATE = "The assistant is resting; your job ran out of providers."


class App:
    def __init__(self, asgi: Any, gateway: Gateway) -> None:
        self.asgi = asgi
        self.gateway = gateway

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.asgi),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {MASTER_KEY}"},
        )

    async def work(self) -> list[str]:
        queue = self.gateway.jobs.queue
        assert isinstance(queue, MemoryJobQueue)
        worker = JobWorker(self.gateway, self.gateway.jobs)
        return [(await worker.run(body)).outcome for body in queue.drain()]

    async def run(
        self, client: httpx.AsyncClient, job: dict[str, Any], outcome: str = "ran"
    ) -> dict[str, Any]:
        submitted = await client.post("/v1/jobs", json=job)
        assert submitted.status_code == 202, submitted.text
        [queued] = submitted.json()["data"]
        assert await self.work() == [outcome]
        done: dict[str, Any] = (await client.get(f"/v1/jobs/{queued['id']}")).json()
        return done


@pytest.fixture
async def app(fake_upstream: FakeUpstream, config_file: ConfigFile) -> AsyncIterator[App]:
    config = {**jobs_config(fake_upstream), "last_resort": {"models": {"mx": {"template": TEMPLATE}}}}
    settings = RouterSettings(
        config_path=config_file(config),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        cache_enabled=False,
    )
    asgi_app = create_app(settings)
    async with running(asgi_app) as asgi:
        yield App(asgi, asgi_app.state.gateway)


def chat(text: str, **metadata: str) -> dict[str, Any]:
    return {"request": {"model": "m", "messages": [{"role": "user", "content": text}], "metadata": metadata}}


def messages(text: str, **metadata: str) -> dict[str, Any]:
    request = {
        "model": "m",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": text}],
        "metadata": metadata,
    }
    return {"kind": "messages", "request": request}


async def test_jobs_speak_as_a_persona_and_continue_a_conversation(
    app: App, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script("a", Reply.ok("Hello Ann."), Reply.ok("You are Ann."))
    async with app.client() as client:
        assert (await client.put("/admin/personas/default/helper", json=PERSONA)).status_code == 200
        first = await app.run(client, chat("I am Ann.", persona="helper", conversation="job-c"))
        assert first["status"] == "succeeded"
        second = await app.run(client, messages("Who am I?", persona="helper", conversation="job-c"))
        assert second["status"] == "succeeded" and second["result"]["content"][0]["text"] == "You are Ann."
        shown = (await client.get("/v1/conversations/job-c")).json()
    sent = fake_upstream.calls("a")[-1].body
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "You are Acme's assistant."),
        ("user", "I am Ann."),
        ("assistant", "Hello Ann."),
        ("user", "Who am I?"),
    ]
    assert "metadata" not in sent  # persona and conversation stay in the gateway
    assert [m["content"] for m in shown["messages"]] == [
        "I am Ann.",
        "Hello Ann.",
        "Who am I?",
        "You are Ann.",
    ]


async def test_a_job_naming_an_unknown_persona_fails_for_good(app: App, fake_upstream: FakeUpstream) -> None:
    async with app.client() as client:
        failed = await app.run(client, chat("hi", persona="nobody"), outcome="failed")
    assert failed["status"] == "failed" and '"persona_not_found"' in json.dumps(failed["error"])
    assert fake_upstream.count("a") == 0


async def test_a_job_gets_the_last_resort_unless_it_declines_it(
    app: App, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_default("a", Reply.overloaded())
    fake_upstream.set_default("c", Reply.overloaded())
    request = {"model": "mx", "messages": [{"role": "user", "content": "hi"}]}
    async with app.client() as client:
        rescued = await app.run(client, {"request": request})
        assert rescued["status"] == "succeeded"
        assert rescued["result"]["choices"][0]["message"]["content"] == TEMPLATE
        assert rescued["result"]["id"].startswith("fallback-")
        declined = await client.post("/v1/jobs", json={"request": {**request, "cache": {"no-store": True}}})
        assert declined.status_code == 202
    queue = app.gateway.jobs.queue
    assert isinstance(queue, MemoryJobQueue)
    [body] = queue.drain()
    with pytest.raises(JobRetryError):  # back to the queue, to be tried again later
        await JobWorker(app.gateway, app.gateway.jobs).run(body)
