"""The worker's other crash window and its retries, in one process (memory state, the fake
upstream): a crash during the provider call costs a second call but never a second charge; a
transient failure hands the job back to the queue; a running job is not run by a second delivery."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile
from fakes import MASTER_KEY, FakeUpstream, Reply
from jobkit import MESSAGES, add_key, jobs_config
from stagekit import recording
from statekit import T0, Clock
from switchyard.compose.gateway import Gateway, open_gateway
from switchyard.config.settings import RouterSettings
from switchyard.state.jobs import JobStatus, JobStore
from switchyard.worker.jobs import JobBusyError, JobRetryError, JobWorker

BODY = json.dumps(
    {"job_id": "job_window0001", "key_id": "k", "request": {"model": "m", "messages": MESSAGES}}
)


class CrashingResultWrite:
    """The worker dies while the provider's answer is in flight: the result write never lands."""

    def __init__(self, inner: JobStore) -> None:
        self._inner = inner
        self.crashes = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def finish(self, *args: Any, **kwargs: Any) -> bool:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("worker crashed before the result write")
        return await self._inner.finish(*args, **kwargs)


@pytest.fixture
async def gateway(fake_upstream: FakeUpstream, config_file: ConfigFile) -> AsyncIterator[Gateway]:
    settings = RouterSettings(
        config_path=config_file(jobs_config(fake_upstream)),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        cache_enabled=False,
        job_lease_s=60,
    )
    gateway = await open_gateway(settings)
    await add_key(gateway.state.keys, "k", "t")
    try:
        yield gateway
    finally:
        await gateway.aclose()


def job_status(gateway: Gateway) -> Any:
    assert gateway.jobs is not None
    return gateway.jobs.store.get("t", "job_window0001")


async def test_a_crash_during_the_provider_call_reruns_after_the_lease_but_charges_once(
    gateway: Gateway, fake_upstream: FakeUpstream
) -> None:
    assert gateway.jobs is not None
    usage = recording(gateway)
    gateway.jobs.store = CrashingResultWrite(gateway.jobs.store)
    clock = Clock(T0)
    worker = JobWorker(gateway, gateway.jobs, clock=clock)
    with pytest.raises(RuntimeError):
        await worker.run(BODY)
    with pytest.raises(JobBusyError):  # redelivered within the lease: not run twice at once
        await worker.run(BODY)
    assert fake_upstream.count("a") == 1 and usage.records == []
    clock.advance(60)  # the dead worker's lease lapses
    assert (await worker.run(BODY)).outcome == "ran"
    assert (await worker.run(BODY)).outcome == "duplicate"
    assert fake_upstream.count("a") == 2  # the documented at-least-once window
    assert usage.per_request() == {"job_window0001": 1}  # charged once
    done = await job_status(gateway)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2


async def test_a_transient_failure_requeues_the_job_for_sqs_to_retry(
    gateway: Gateway, fake_upstream: FakeUpstream
) -> None:
    assert gateway.jobs is not None
    fake_upstream.set_default("a", Reply.server_error(503))
    worker = JobWorker(gateway, gateway.jobs)
    with pytest.raises(JobRetryError):
        await worker.run(BODY)
    assert (await job_status(gateway)).status == JobStatus.QUEUED
    fake_upstream.set_default("a", None)
    assert (await worker.run(BODY)).outcome == "ran"
    assert (await job_status(gateway)).status == JobStatus.SUCCEEDED


async def test_a_finished_job_is_posted_to_its_webhook_signed_for_its_tenant(
    fake_upstream: FakeUpstream, config_file: ConfigFile
) -> None:
    import httpx

    from switchyard.jobs.webhooks import SIGNATURE_HEADER, tenant_secret, verify

    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    settings = RouterSettings(
        config_path=config_file(jobs_config(fake_upstream)),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        webhook_secret=SecretStr("master-secret"),
    )
    # A public address literal: the guard needs no DNS, and MockTransport connects nowhere.
    message = {**json.loads(BODY), "webhook_url": "https://93.184.216.34/hook", "metadata": {"row": "9"}}
    gateway = await open_gateway(settings, webhook_transport=httpx.MockTransport(receiver))
    await add_key(gateway.state.keys, "k", "t")
    try:
        assert gateway.jobs is not None
        worker = JobWorker(gateway, gateway.jobs)
        assert (await worker.run(json.dumps(message))).outcome == "ran"
        assert (await worker.run(json.dumps(message))).outcome == "duplicate"
    finally:
        await gateway.aclose()
    [request] = seen  # once, even though the message came twice
    secret = tenant_secret(b"master-secret", "t")  # the key's tenant's secret
    assert verify(secret, request.content, request.headers[SIGNATURE_HEADER])
    delivered = json.loads(request.content)
    assert (delivered["id"], delivered["status"], delivered["metadata"]) == (
        "job_window0001",
        "succeeded",
        {"row": "9"},
    )
    assert delivered["result"]["choices"][0]["message"]["content"]
