"""Messages- and embeddings-kind jobs and per-tenant ownership, through the ASGI app (memory state, in-process
queue, the worker driven by hand) against the fake upstream: an Anthropic request in, an Anthropic
message out (validated by the ``anthropic`` SDK's own types), served through the same routing core
as chat jobs; jobs shared by the keys of one tenant and invisible to others; webhooks signed with
the owning tenant's secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, running
from fakes import MASTER_KEY, FakeUpstream, Reply, fake_vector
from jobkit import ANTHROPIC_REQUEST, MESSAGES, jobs_config
from stagekit import recording
from switchyard.accounting import UsageRecord
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app
from switchyard.jobs.queue import MemoryJobQueue
from switchyard.jobs.service import JobsService
from switchyard.jobs.webhooks import SIGNATURE_HEADER, WebhookSender, verify
from switchyard.keys.ids import key_id
from switchyard.keys.virtual import KeyService, KeySpec
from switchyard.worker.jobs import JobRetryError, JobWorker

CHAT = {"model": "m", "messages": MESSAGES}
HOOK = "https://93.184.216.34/hook"  # a public address literal: no DNS; MockTransport connects nowhere


class App:
    def __init__(self, asgi: Any, gateway: Gateway) -> None:
        self.asgi = asgi
        self.gateway = gateway
        assert gateway.jobs is not None
        self.jobs: JobsService = gateway.jobs
        self.deliveries: list[httpx.Request] = []
        self.charges: list[tuple[str, str, str]] = []  # (request id, key id, tenant)

    def client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.asgi),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {key}"},
        )

    async def work(self) -> list[str]:
        queue = self.jobs.queue
        assert isinstance(queue, MemoryJobQueue)
        worker = JobWorker(self.gateway, self.jobs)
        return [(await worker.run(body)).outcome for body in queue.drain()]

    async def key(self, tenant: str) -> str:
        return (await KeyService(self.gateway.state.keys).create(KeySpec(tenant=tenant))).key


@pytest.fixture
async def app(fake_upstream: FakeUpstream, config_file: ConfigFile) -> AsyncIterator[App]:
    settings = RouterSettings(
        config_path=config_file(jobs_config(fake_upstream)),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        cache_enabled=False,
        webhook_secret=SecretStr("whsec-master"),
    )
    asgi_app = create_app(settings)
    async with running(asgi_app) as asgi:
        app = App(asgi, asgi_app.state.gateway)

        def receiver(request: httpx.Request) -> httpx.Response:
            app.deliveries.append(request)
            return httpx.Response(200)

        client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
        app.jobs.webhooks = WebhookSender(b"whsec-master", app.jobs.guard, lambda: client)
        usage = app.gateway.usage
        answered = usage.answered

        def spy(record: UsageRecord, kid: str, tenant: str, *, refused: bool = False) -> None:
            app.charges.append((record.request_id, kid, tenant))
            answered(record, kid, tenant, refused=refused)

        usage.answered = spy  # type: ignore[method-assign]
        try:
            yield app
        finally:
            await client.aclose()


async def test_a_messages_job_runs_through_fallback_and_stores_an_anthropic_message(
    app: App, fake_upstream: FakeUpstream
) -> None:
    usage = recording(app.gateway)
    fake_upstream.script("a", Reply.overloaded())  # the OpenAI-dialect deployment fails over
    async with app.client(MASTER_KEY) as client:
        submitted = await client.post("/v1/jobs", json={"kind": "messages", "request": ANTHROPIC_REQUEST})
        assert submitted.status_code == 202
        [job] = submitted.json()["data"]
        assert (job["kind"], job["status"]) == ("messages", "queued")
        assert await app.work() == ["ran"]
        done = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert done["status"] == "succeeded" and done["kind"] == "messages"
    message = anthropic.types.Message.model_validate(done["result"])
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.output_tokens > 0 and message.stop_reason == "end_turn"
    assert (fake_upstream.count("a"), fake_upstream.count("c")) == (1, 1)
    [served] = fake_upstream.calls("c")
    assert served.body["system"] == "Answer in one line." and served.body["model"] == "up-c"
    [record] = usage.records  # charged once, to the provider that answered
    assert (record.provider, record.attempts, record.request_id) == ("c", 2, job["id"])


async def test_an_embeddings_job_is_retried_through_the_queue_and_stores_the_embeddings_list(
    app: App, fake_upstream: FakeUpstream
) -> None:
    usage = recording(app.gateway)
    fake_upstream.script("a", Reply.overloaded())  # the fallback, c, has no embeddings: none answers
    request = {"model": "mx", "input": ["chunk one", "chunk two"], "dimensions": 3}
    async with app.client(MASTER_KEY) as client:
        submitted = await client.post("/v1/jobs", json={"kind": "embeddings", "request": request})
        assert submitted.status_code == 202
        [job] = submitted.json()["data"]
        queue = app.jobs.queue
        assert isinstance(queue, MemoryJobQueue)
        [body] = queue.drain()
        worker = JobWorker(app.gateway, app.jobs)
        with pytest.raises(JobRetryError):  # 503: back to the queue, as for chat
            await worker.run(body)
        assert (await worker.run(body)).outcome == "ran"  # the redelivery: a answers
        done = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert (done["kind"], done["status"]) == ("embeddings", "succeeded")
    assert [e["embedding"] for e in done["result"]["data"]] == [fake_vector(t, 3) for t in request["input"]]
    assert (fake_upstream.count("a"), fake_upstream.count("c")) == (2, 0)  # c was never called
    [record] = usage.records  # charged once: the delivery that was answered
    assert (record.public_model, record.provider, record.usage.completion_tokens) == ("mx", "a", 0)


async def test_a_messages_job_put_straight_on_the_queue_is_answered_in_anthropic_shape(
    app: App, fake_upstream: FakeUpstream
) -> None:
    message = {
        "job_id": "job_direct_messages1",
        "key_id": key_id(MASTER_KEY),
        "kind": "messages",
        "request": {**ANTHROPIC_REQUEST, "model": "m"},
        "webhook_url": HOOK,
    }
    worker = JobWorker(app.gateway, app.jobs)
    assert (await worker.run(json.dumps(message))).outcome == "ran"
    assert (await worker.run(json.dumps(message))).outcome == "duplicate"
    async with app.client(MASTER_KEY) as client:
        done = (await client.get("/v1/jobs/job_direct_messages1")).json()
    anthropic.types.Message.model_validate(done["result"])
    assert done["result"]["id"].startswith("msg_") and fake_upstream.count("a") == 1
    [delivery] = app.deliveries
    assert json.loads(delivery.content)["result"] == done["result"]


@pytest.mark.parametrize(
    ("job", "param"),
    [
        ({"request": {**CHAT, "stream": True}}, "request.stream"),
        ({"kind": "messages", "request": {**ANTHROPIC_REQUEST, "stream": True}}, "request.stream"),
        ({"kind": "messages", "request": CHAT}, "request.max_tokens"),
        ({"kind": "completions", "request": CHAT}, ""),
    ],
)
async def test_streaming_or_malformed_jobs_are_refused_with_a_400(
    app: App, job: dict[str, Any], param: str
) -> None:
    async with app.client(MASTER_KEY) as client:
        answer = await client.post("/v1/jobs", json=job)
        batch = await client.post("/v1/jobs", json={"jobs": [{"request": CHAT}, job]})
        listed = (await client.get("/v1/jobs")).json()["data"]
    assert answer.status_code == 400 and batch.status_code == 400
    error = answer.json()["error"]
    assert (error["param"] or "") == param
    if param.endswith("stream"):
        assert error["code"] == "stream_not_supported" and "do not stream" in error["message"]
        assert batch.json()["error"]["param"] == "jobs[1].request.stream"
    assert listed == []  # nothing of a refused submission was stored


async def test_jobs_belong_to_the_tenant_and_are_charged_to_the_submitting_key(
    app: App, fake_upstream: FakeUpstream
) -> None:
    acme_1, acme_2, globex = await app.key("acme"), await app.key("acme"), await app.key("globex")
    async with app.client(acme_1) as first, app.client(acme_2) as second, app.client(globex) as other:
        submitted = await first.post("/v1/jobs", json={"request": CHAT, "webhook_url": HOOK})
        job_id = submitted.json()["data"][0]["id"]
        assert await app.work() == ["ran"]
        assert (await second.get(f"/v1/jobs/{job_id}")).json()["status"] == "succeeded"
        assert [j["id"] for j in (await second.get("/v1/jobs")).json()["data"]] == [job_id]
        assert (await other.get(f"/v1/jobs/{job_id}")).status_code == 404
        assert (await other.delete(f"/v1/jobs/{job_id}")).json()["error"]["code"] == "job_not_found"
        assert (await other.get("/v1/jobs")).json()["data"] == []
        queued = (await second.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"]
        assert (await other.delete(f"/v1/jobs/{queued}")).status_code == 404
        assert (await first.delete(f"/v1/jobs/{queued}")).json()["status"] == "cancelled"
        secrets = [(await c.get("/v1/jobs/webhook-secret")).json() for c in (first, second, other)]
        legacy = (await first.get("/v1/webhooks/secret")).json()
    assert [(r["request_id"], r["kid"], r["tenant"]) for r in map(_charge, app.charges)] == [
        (job_id, key_id(acme_1), "acme")
    ]
    assert secrets[0] == secrets[1] == legacy and secrets[0]["tenant"] == "acme"
    assert secrets[2]["tenant"] == "globex" and secrets[2]["secret"] != secrets[0]["secret"]
    [delivery] = app.deliveries
    signature = delivery.headers[SIGNATURE_HEADER]
    assert verify(secrets[0]["secret"], delivery.content, signature)
    assert not verify(secrets[2]["secret"], delivery.content, signature)  # another tenant's secret
    assert fake_upstream.count("a") == 1


async def test_a_message_naming_an_unknown_key_fails_once_without_calling_anyone(
    app: App, fake_upstream: FakeUpstream
) -> None:
    body = json.dumps(
        {"job_id": "job_unknownkey01", "key_id": "k_nobody", "request": CHAT, "webhook_url": HOOK}
    )
    worker = JobWorker(app.gateway, app.jobs)
    assert (await worker.run(body)).outcome == "failed"  # acknowledged: redelivery cannot help
    assert (await worker.run(body)).outcome == "duplicate"
    async with app.client(MASTER_KEY) as client:  # the operator reads it under the master tenant
        failed = (await client.get("/v1/jobs/job_unknownkey01")).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_key_id"
    assert fake_upstream.count() == 0 and app.charges == [] and app.deliveries == []


async def test_a_job_id_reused_by_another_key_of_the_tenant_is_not_run_for_it(
    app: App, fake_upstream: FakeUpstream
) -> None:
    from switchyard.worker.jobs import InvalidMessageError

    acme_1, acme_2 = await app.key("acme"), await app.key("acme")
    worker = JobWorker(app.gateway, app.jobs)
    first = {"job_id": "job_shared0001", "key_id": key_id(acme_1), "request": CHAT}
    assert (await worker.run(json.dumps(first))).outcome == "ran"
    with pytest.raises(InvalidMessageError):  # to the DLQ and its alarm, not silently dropped
        await worker.run(json.dumps({**first, "key_id": key_id(acme_2)}))
    assert fake_upstream.count("a") == 1


def _charge(charge: tuple[str, str, str]) -> dict[str, str]:
    return dict(zip(("request_id", "kid", "tenant"), charge, strict=True))


async def test_a_job_whose_key_was_revoked_before_it_ran_fails_for_its_tenant(
    app: App, fake_upstream: FakeUpstream
) -> None:
    leaked, spare = await app.key("acme"), await app.key("acme")
    async with app.client(leaked) as client:
        job_id = (await client.post("/v1/jobs", json={"request": CHAT})).json()["data"][0]["id"]
    assert await app.gateway.state.keys.revoke(key_id(leaked))
    app.gateway.auth.forget(key_id(leaked))  # what the admin API does in its own container
    assert await app.work() == ["failed"]
    async with app.client(spare) as client:
        failed = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "revoked_api_key"
    assert fake_upstream.count() == 0 and app.charges == []


async def test_a_job_over_its_keys_budget_fails_with_budget_exceeded_and_calls_nobody(
    app: App, fake_upstream: FakeUpstream
) -> None:
    from decimal import Decimal

    spec = KeySpec(tenant="acme", budgets={"daily": Decimal("0.001")})
    issued = await KeyService(app.gateway.state.keys).create(spec)
    priced = {**CHAT, "model": "a/gpt-4o"}  # the shipped price table's gpt-4o: ~$0.01 reserved
    async with app.client(issued.key) as client:
        [job] = (await client.post("/v1/jobs", json={"request": priced})).json()["data"]
        # Not retried through SQS until the DLQ: the budget stays spent until the period ends.
        assert await app.work() == ["failed"]
        done = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert done["status"] == "failed" and done["error"]["code"] == "budget_exceeded"
    assert fake_upstream.count() == 0 and app.charges == []


async def test_a_webhook_that_never_went_out_is_delivered_by_the_next_delivery_of_the_message(
    app: App, fake_upstream: FakeUpstream
) -> None:
    """The delivery that finished the job could not deliver its webhook (the receiver was down
    for every try, or the worker died first): the message's next delivery sends it, once."""
    statuses = [503] * 5 + [200]
    sent: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(statuses.pop(0) if statuses else 200)

    async def no_wait(_: float) -> None:
        return None

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        app.jobs.webhooks = WebhookSender(b"whsec-master", app.jobs.guard, lambda: client, sleep=no_wait)
        message = json.dumps(
            {
                "job_id": "job_webhook_later1",
                "key_id": key_id(MASTER_KEY),
                "request": CHAT,
                "webhook_url": HOOK,
            }
        )
        worker = JobWorker(app.gateway, app.jobs)
        assert (await worker.run(message)).outcome == "ran"
        assert len(sent) == 5  # every try failed
        assert (await worker.run(message)).outcome == "notified"
        assert (await worker.run(message)).outcome == "duplicate"  # delivered: not again
    assert len(sent) == 6 and fake_upstream.count("a") == 1 and len(app.charges) == 1
    assert json.loads(sent[-1].content)["id"] == "job_webhook_later1"
