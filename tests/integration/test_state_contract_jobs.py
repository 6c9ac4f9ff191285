"""The ``JobStore`` contract, run over the memory adapter and the DynamoDB one on moto (the table
of template.yaml): the conditional moves that make the worker idempotent per job id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from statekit import T0, Clock, instances
from switchyard.state.dynamodb_jobs import DynamoJobStore
from switchyard.state.jobs import JobRecord, JobStatus, JobStore
from switchyard.state.memory_jobs import MemoryJobStore

Backend = Callable[[], JobStore]
TTL = T0 + 86400


def job(job_id: str = "job_1", tenant: str = "t1", **fields: Any) -> JobRecord:
    base: dict[str, Any] = {
        "key_id": "k1",
        "status": JobStatus.QUEUED,
        "request": b'{"model":"m"}',
        "created_at": T0,
        "updated_at": T0,
        "expires_at": TTL,
    }
    base.update(fields)
    return JobRecord(job_id=job_id, tenant=tenant, **base)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Backend]:
    yield from instances(
        request, lambda: MemoryJobStore(clock=clock), lambda table: DynamoJobStore(table, clock=clock)
    )


async def test_created_job_is_read_back_by_its_tenant_only(backend: Backend) -> None:
    record = job(webhook_url="https://example.com/hook", metadata={"batch": "7"}, kind="messages")
    assert await backend().create(record)
    assert await backend().get("t1", "job_1") == record
    assert await backend().get("t2", "job_1") is None


async def test_a_job_created_failed_keeps_its_error(backend: Backend) -> None:
    record = job(status=JobStatus.FAILED, error=b'{"error":{"code":"invalid_key_id"}}')
    assert await backend().create(record)
    assert await backend().get("t1", "job_1") == record
    assert not (await backend().claim(job(), now=T0, lease_until=T0 + 60)).won


async def test_a_job_id_of_another_key_of_the_tenant_is_never_claimed(backend: Backend) -> None:
    store = backend()
    assert await store.create(job())
    taken = await store.claim(job(key_id="k2"), now=T0, lease_until=T0 + 60)
    assert not taken.won and taken.record is not None
    assert (taken.record.key_id, taken.record.status) == ("k1", JobStatus.QUEUED)
    assert (await store.claim(job(), now=T0, lease_until=T0 + 60)).won
    other = await store.claim(job(tenant="t2", key_id="k9"), now=T0, lease_until=T0 + 60)
    assert other.won and other.record is not None and other.record.key_id == "k9"  # its own job


async def test_finish_under_a_lapsed_claim_writes_nothing(backend: Backend) -> None:
    store = backend()
    assert (await store.claim(job(), now=T0, lease_until=T0 + 1)).won
    assert (await store.claim(job(), now=T0 + 2, lease_until=T0 + 60)).won
    ok = {"now": T0 + 3, "expires_at": TTL, "result": b'{"id":"x"}'}
    assert not await store.finish("t1", "job_1", JobStatus.SUCCEEDED, attempt=1, **ok)
    assert await store.finish("t1", "job_1", JobStatus.SUCCEEDED, attempt=2, **ok)
    done = await backend().get("t1", "job_1")
    assert done is not None and (done.status, done.result) == (JobStatus.SUCCEEDED, b'{"id":"x"}')


async def test_creating_an_existing_job_writes_nothing(backend: Backend) -> None:
    assert await backend().create(job())
    assert not await backend().create(job(request=b'{"model":"other"}'))
    found = await backend().get("t1", "job_1")
    assert found is not None and found.request == b'{"model":"m"}'


async def test_an_expired_job_reads_as_absent(backend: Backend, clock: Clock) -> None:
    assert await backend().create(job())
    clock.advance(86400)
    assert await backend().get("t1", "job_1") is None


async def test_claim_of_an_unknown_job_creates_it_running(backend: Backend) -> None:
    claim = await backend().claim(job(webhook_url="https://h"), now=T0, lease_until=T0 + 60)
    assert claim.won and claim.record is not None
    assert (claim.record.status, claim.record.attempts, claim.record.lease_until) == (
        JobStatus.RUNNING,
        1,
        T0 + 60,
    )
    assert claim.record.webhook_url == "https://h"


async def test_concurrent_claims_have_exactly_one_winner(backend: Backend) -> None:
    assert await backend().create(job())
    stores = [backend() for _ in range(4)]
    claims = await asyncio.gather(*(s.claim(job(), now=T0, lease_until=T0 + 60) for s in stores))
    assert sorted(c.won for c in claims) == [False, False, False, True]
    assert all(c.record is not None and c.record.status == JobStatus.RUNNING for c in claims)


async def test_a_running_job_is_claimed_again_only_past_its_lease_and_unanswered(backend: Backend) -> None:
    store = backend()
    assert (await store.claim(job(), now=T0, lease_until=T0 + 60)).won
    assert not (await store.claim(job(), now=T0 + 59, lease_until=T0 + 120)).won
    second = await store.claim(job(), now=T0 + 60, lease_until=T0 + 120)
    assert second.won and second.record is not None and second.record.attempts == 2
    assert await store.checkpoint("t1", "job_1", attempt=2, result=b'{"id":"x"}', now=T0 + 61)
    answered = await store.claim(job(), now=T0 + 500, lease_until=T0 + 560)
    assert not answered.won and answered.record is not None and answered.record.answered


async def test_checkpoint_needs_the_current_claim(backend: Backend) -> None:
    store = backend()
    assert (await store.claim(job(), now=T0, lease_until=T0 + 1)).won
    assert (await store.claim(job(), now=T0 + 2, lease_until=T0 + 60)).won  # the first one lapsed
    assert not await store.checkpoint("t1", "job_1", attempt=1, result=b"{}", now=T0 + 3)
    assert await store.checkpoint("t1", "job_1", attempt=2, result=b"{}", now=T0 + 3)


async def test_finish_ends_a_running_job_once_and_keeps_the_checkpoint(backend: Backend) -> None:
    store = backend()
    assert (await store.claim(job(), now=T0, lease_until=T0 + 60)).won
    assert await store.checkpoint("t1", "job_1", attempt=1, result=b'{"id":"x"}', now=T0)
    assert await store.finish("t1", "job_1", JobStatus.SUCCEEDED, now=T0 + 1, expires_at=TTL + 5)
    assert not await backend().finish(
        "t1", "job_1", JobStatus.FAILED, now=T0 + 2, expires_at=TTL, error=b"{}"
    )
    done = await backend().get("t1", "job_1")
    assert done is not None
    assert (done.status, done.result, done.error, done.expires_at) == (
        JobStatus.SUCCEEDED,
        b'{"id":"x"}',
        None,
        TTL + 5,
    )


async def test_only_a_queued_job_can_be_cancelled(backend: Backend) -> None:
    store = backend()
    assert await store.create(job("job_1"))
    assert await store.create(job("job_2"))
    cancelled = await store.cancel("t1", "job_1", now=T0)
    assert cancelled.won and cancelled.record is not None and cancelled.record.status == JobStatus.CANCELLED
    assert not (await store.claim(job("job_1"), now=T0, lease_until=T0 + 60)).won
    assert (await store.claim(job("job_2"), now=T0, lease_until=T0 + 60)).won
    refused = await store.cancel("t1", "job_2", now=T0)
    assert not refused.won and refused.record is not None and refused.record.status == JobStatus.RUNNING
    assert (await store.cancel("t2", "job_2", now=T0)).record is None


async def test_list_is_newest_first_filtered_and_paginated(backend: Backend) -> None:
    store = backend()
    for i in range(5):
        assert await store.create(job(f"job_{i}"))
    assert await store.create(job("job_9", tenant="other"))
    assert await store.create(job("job_8", key_id="k2"))  # the same tenant's other key
    assert (await store.cancel("t1", "job_3", now=T0)).won
    first = await store.list("t1", limit=3)
    assert [j.job_id for j in first.jobs] == ["job_8", "job_4", "job_3"] and first.next_after == "job_3"
    rest = await store.list("t1", limit=10, after=first.next_after)
    assert [j.job_id for j in rest.jobs] == ["job_2", "job_1", "job_0"] and rest.next_after is None
    queued = await store.list("t1", status=JobStatus.QUEUED, limit=3)
    assert [j.job_id for j in queued.jobs] == ["job_8", "job_4", "job_2"] and queued.next_after == "job_2"


async def test_release_requeues_an_unanswered_job_under_the_current_claim(backend: Backend) -> None:
    store = backend()
    assert (await store.claim(job(), now=T0, lease_until=T0 + 60)).won
    assert not await store.release("t1", "job_1", attempt=2, now=T0)
    assert await store.release("t1", "job_1", attempt=1, now=T0)
    again = await store.claim(job(), now=T0 + 1, lease_until=T0 + 60)
    assert again.won and again.record is not None and again.record.attempts == 2
    assert await store.checkpoint("t1", "job_1", attempt=2, result=b"{}", now=T0 + 2)
    assert not await store.release("t1", "job_1", attempt=2, now=T0 + 3)


@pytest.mark.parametrize("stored", [False, True])
async def test_the_stored_hint_never_changes_a_claims_outcome(backend: Backend, stored: bool) -> None:
    store = backend()
    fresh = await store.claim(
        job("job_new", webhook_url="https://h"), now=T0, lease_until=T0 + 60, stored=stored
    )
    assert fresh.won and fresh.record is not None and fresh.record.attempts == 1
    assert await backend().get("t1", "job_new") == fresh.record
    assert await store.create(job("job_old"))
    taken = await store.claim(job("job_old"), now=T0, lease_until=T0 + 60, stored=stored)
    assert taken.won and taken.record is not None and taken.record.status == JobStatus.RUNNING
    again = await store.claim(job("job_old"), now=T0, lease_until=T0 + 60, stored=not stored)
    assert not again.won and again.record == taken.record
    racing = [backend() for _ in range(4)]
    claims = await asyncio.gather(
        *(
            s.claim(job("job_race"), now=T0, lease_until=T0 + 60, stored=i % 2 == 0)
            for i, s in enumerate(racing)
        )
    )
    assert sorted(c.won for c in claims) == [False, False, False, True]


async def test_an_expired_job_is_claimed_afresh(backend: Backend, clock: Clock) -> None:
    assert await backend().create(job(request=b'{"model":"old"}'))
    clock.advance(86400)
    claim = await backend().claim(
        job(request=b'{"model":"new"}', expires_at=TTL + 86400),
        now=T0 + 86400,
        lease_until=T0 + 86460,
        stored=True,
    )
    assert claim.won and claim.record is not None
    assert (claim.record.request, claim.record.attempts) == (b'{"model":"new"}', 1)


async def test_a_finished_jobs_webhook_is_marked_delivered(backend: Backend) -> None:
    record = job(status=JobStatus.SUCCEEDED, webhook_url="https://example.com/hook")
    assert await backend().create(record)
    assert not (await backend().get("t1", "job_1")).notified  # type: ignore[union-attr]
    await backend().mark_notified("t1", "job_1")
    assert await backend().get("t1", "job_1") == replace(record, notified=True)
    await backend().mark_notified("t1", "job_missing")  # gone: nothing to mark, no error
    assert await backend().get("t1", "job_missing") is None
