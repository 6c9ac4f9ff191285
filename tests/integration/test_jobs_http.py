"""``/v1/jobs`` through the ASGI app (memory state, in-process queue) with the worker driven by
hand: submission (single, batch, limit, Idempotency-Key, webhook guard), results, listing,
cancelling, and another tenant's jobs answered 404."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from jobkit import MESSAGES, jobs_config
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app
from switchyard.jobs.queue import MemoryJobQueue
from switchyard.jobs.service import JobsService
from switchyard.keys.auth import MASTER_TENANT
from switchyard.keys.ids import key_id
from switchyard.state.jobs import JobRecord, JobStatus
from switchyard.worker.jobs import JobWorker

CHAT = {"model": "m", "messages": MESSAGES}


class App:
    def __init__(self, client: httpx.AsyncClient, gateway: Gateway) -> None:
        self.client = client
        self.gateway = gateway
        assert gateway.jobs is not None
        self.jobs: JobsService = gateway.jobs

    async def work(self) -> list[str]:
        """Run every queued message through the worker; the outcome of each."""
        queue = self.jobs.queue
        assert isinstance(queue, MemoryJobQueue)
        worker = JobWorker(self.gateway, self.jobs)
        return [(await worker.run(body)).outcome for body in queue.drain()]


@pytest.fixture
async def app(fake_upstream: FakeUpstream, config_file: ConfigFile) -> AsyncIterator[App]:
    settings = RouterSettings(
        config_path=config_file(jobs_config(fake_upstream)),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        jobs_max_batch=3,
        cache_enabled=False,
        webhook_secret=SecretStr("whsec-master"),
    )
    asgi_app = create_app(settings)
    async with running(asgi_app) as asgi:
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers
        ) as client:
            yield App(client, asgi_app.state.gateway)


async def test_a_submitted_job_is_queued_then_holds_its_result(app: App, fake_upstream: FakeUpstream) -> None:
    submitted = await app.client.post("/v1/jobs", json={"request": CHAT, "metadata": {"row": "1"}})
    assert submitted.status_code == 202
    [job] = submitted.json()["data"]
    assert (job["object"], job["status"], job["metadata"]) == ("job", "queued", {"row": "1"})
    assert fake_upstream.count() == 0  # nothing runs before the worker
    assert await app.work() == ["ran"]
    done = (await app.client.get(f"/v1/jobs/{job['id']}")).json()
    assert done["status"] == "succeeded"
    assert done["result"]["choices"][0]["message"]["content"]
    assert fake_upstream.count("a") == 1


async def test_a_batch_answers_one_job_per_request_and_has_a_limit(app: App) -> None:
    batch = await app.client.post("/v1/jobs", json={"jobs": [{"request": CHAT}] * 3, "metadata": {"b": "1"}})
    assert batch.status_code == 202
    jobs = batch.json()["data"]
    assert len({j["id"] for j in jobs}) == 3 and all(j["metadata"] == {"b": "1"} for j in jobs)
    too_many = await app.client.post("/v1/jobs", json={"jobs": [{"request": CHAT}] * 4})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "jobs"


async def test_the_same_idempotency_key_gives_the_same_jobs_run_once(
    app: App, fake_upstream: FakeUpstream
) -> None:
    headers = {"Idempotency-Key": "nightly-2026-11-23"}
    body = {"jobs": [{"request": CHAT}, {"request": CHAT}]}
    first = await app.client.post("/v1/jobs", json=body, headers=headers)
    assert await app.work() == ["ran", "ran"]
    again = await app.client.post("/v1/jobs", json=body, headers=headers)
    assert [j["id"] for j in again.json()["data"]] == [j["id"] for j in first.json()["data"]]
    assert [j["status"] for j in again.json()["data"]] == ["succeeded", "succeeded"]
    assert await app.work() == []  # finished jobs are not enqueued again
    assert fake_upstream.count("a") == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
async def test_webhooks_to_non_public_targets_are_refused_at_submission(app: App, url: str) -> None:
    refused = await app.client.post("/v1/jobs", json={"request": CHAT, "webhook_url": url})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "webhook_url"
    assert (await app.client.get("/v1/jobs")).json()["data"] == []


async def test_another_tenants_job_is_not_found(app: App) -> None:
    now = app.jobs.clock()
    other = JobRecord("job_other00001", "k_else", "someone-else", JobStatus.QUEUED, b"{}", now, now, now + 60)
    assert await app.jobs.store.create(other)
    assert (await app.client.get("/v1/jobs/job_other00001")).status_code == 404
    assert (await app.client.delete("/v1/jobs/job_other00001")).status_code == 404
    assert (await app.client.get("/v1/jobs")).json()["data"] == []


async def test_list_filters_by_status_and_paginates(app: App) -> None:
    ids = []
    for _ in range(3):
        ids.append((await app.client.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"])
    assert (await app.client.delete(f"/v1/jobs/{ids[0]}")).json()["status"] == "cancelled"
    page = (await app.client.get("/v1/jobs", params={"limit": 2})).json()
    assert [j["id"] for j in page["data"]] == [ids[2], ids[1]] and page["has_more"]
    rest = (await app.client.get("/v1/jobs", params={"limit": 2, "after": page["next_after"]})).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and not rest["has_more"]
    cancelled = (await app.client.get("/v1/jobs", params={"status": "cancelled"})).json()
    assert [j["id"] for j in cancelled["data"]] == [ids[0]]


async def test_a_cancelled_job_never_runs_and_a_finished_one_cannot_be_cancelled(
    app: App, fake_upstream: FakeUpstream
) -> None:
    first = (await app.client.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"]
    second = (await app.client.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"]
    assert (await app.client.delete(f"/v1/jobs/{first}")).status_code == 200
    assert sorted(await app.work()) == ["cancelled", "ran"]
    refused = await app.client.delete(f"/v1/jobs/{second}")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "job_not_cancellable"
    assert fake_upstream.count("a") == 1


async def test_a_job_the_provider_refuses_fails_with_the_error(app: App, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("a", Reply.error(400, "bad tool schema", error_type="invalid_request_error"))
    job_id = (await app.client.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"]
    assert await app.work() == ["failed"]
    failed = (await app.client.get(f"/v1/jobs/{job_id}")).json()
    assert failed["status"] == "failed" and failed["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [({"request": {"model": "m"}}, "request.messages"), ({"jobs": []}, "jobs"), ({"nope": 1}, "request")],
)
async def test_malformed_submissions_are_400(app: App, body: dict[str, Any], param: str) -> None:
    answer = await app.client.post("/v1/jobs", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"].startswith(param)


async def test_the_webhook_secret_is_the_tenants_own(app: App) -> None:
    secret = (await app.client.get("/v1/jobs/webhook-secret")).json()["secret"]
    assert secret == app.jobs.webhooks.secret_for(MASTER_TENANT)
    assert secret != app.jobs.webhooks.secret_for(key_id(MASTER_KEY)) and secret.startswith("whsec_")
    assert json.dumps(secret).count("whsec-master") == 0
