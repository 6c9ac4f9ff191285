"""The worker core: one job message → at most one provider call and at most one charge.

For each message: parse it, :meth:`~switchyard.state.jobs.JobStore.claim` the job (a conditional
write), run it through :func:`switchyard.serving.serve_chat` (the router's own limits, cache,
retries, fallback and cost) with a checkpoint of the answer after the provider call and before the
charge, then write the final status and result with the TTL, then deliver the webhook.

The crash windows, precisely (docs/jobs.md):

1. before the claim: nothing happened; the redelivery runs the job.
2. claim → checkpoint (the provider call itself): the redelivery finds the job running without an
   answer; it retries later until the lease lapses, then claims and calls the provider again. The
   first call was never charged (the charge comes after the checkpoint), so the key is charged once;
   the provider may have served (and billed) the lost call: the one at-least-once window.
3. checkpoint → charge: the answer is kept, the redelivery finishes the job without calling or
   charging; this usage is not charged (at most once: never twice).
4. charge → final write (the crash the tests inject): the redelivery finishes the job from the
   checkpoint without calling or charging again.
5. final write → webhook: the job is done; the webhook is not sent again (deliveries are retried
   in-process, not by redelivery).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from time import time
from typing import TYPE_CHECKING

from pydantic import ValidationError

from switchyard.api.chat import ChatCompletion
from switchyard.errors import SwitchyardError
from switchyard.jobs.schema import JobMessage
from switchyard.jobs.service import JobsService, job_view
from switchyard.observability import logger
from switchyard.routing.attempt import Outcome
from switchyard.serving import serve_chat
from switchyard.state.jobs import FINAL, JobRecord, JobStatus

if TYPE_CHECKING:
    from switchyard.gateway import Gateway

# Final statuses of the caller's own making: retrying the same request cannot help.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class InvalidMessageError(ValueError):
    """Not a job message: it goes back to the queue and, after maxReceiveCount, to the DLQ."""


class JobBusyError(Exception):
    """Another delivery is running this job: try again after the visibility timeout."""


class JobRetryError(Exception):
    """The attempt failed transiently (every deployment failed, rate limits): retry via SQS."""


@dataclass(frozen=True, slots=True)
class Ran:
    job_id: str
    outcome: str  # ran | failed | recovered | duplicate | cancelled


class JobWorker:
    def __init__(self, gateway: Gateway, jobs: JobsService, *, clock: Callable[[], float] = time) -> None:
        self._gateway = gateway
        self._jobs = jobs
        self._clock = clock

    async def run(self, body: str) -> Ran:
        """Raises InvalidMessageError, JobBusyError, JobRetryError, StateUnavailableError."""
        message = parse(body)
        seed = _seed(message, self._clock(), self._jobs.limits.ttl_s)
        now = self._clock()
        claim = await self._jobs.store.claim(seed, now=now, lease_until=now + self._jobs.limits.lease_s)
        record = claim.record
        if claim.won and record is not None:
            return await self._execute(message, record)
        if record is None or record.status in FINAL:
            return Ran(
                message.job_id,
                "cancelled" if record and record.status == JobStatus.CANCELLED else "duplicate",
            )
        if record.answered:  # an earlier delivery got the answer, then crashed: finish from it
            await self._finish(record, JobStatus.SUCCEEDED)
            return Ran(message.job_id, "recovered")
        raise JobBusyError(message.job_id)

    async def _execute(self, message: JobMessage, record: JobRecord) -> Ran:
        store, key_id, job_id = self._jobs.store, record.key_id, record.job_id

        async def checkpoint(payload: bytes, _: Outcome[ChatCompletion]) -> None:
            if not await store.checkpoint(
                key_id, job_id, attempt=record.attempts, result=payload, now=self._clock()
            ):
                raise JobBusyError(job_id)  # our lease lapsed and another delivery took the job

        request = message.request.model_copy(update={"stream": None, "stream_options": None})
        try:
            served = await serve_chat(self._gateway, request, key_id, job_id, {}, before_charge=checkpoint)
        except SwitchyardError as exc:
            if exc.status in _RETRYABLE_STATUSES:
                await store.release(key_id, job_id, attempt=record.attempts, now=self._clock())
                raise JobRetryError(f"{job_id}: {exc.kind}") from exc
            error = {"error": {"message": exc.message, "type": exc.policy.error_type, "code": exc.code}}
            await self._finish(record, JobStatus.FAILED, error=json.dumps(error).encode())
            return Ran(job_id, "failed")
        await self._finish(record, JobStatus.SUCCEEDED, result=served.body)
        return Ran(job_id, "ran")

    async def _finish(
        self, record: JobRecord, status: JobStatus, *, result: bytes | None = None, error: bytes | None = None
    ) -> None:
        now = self._clock()
        expires_at = now + self._jobs.limits.ttl_s
        store = self._jobs.store
        if not await store.finish(
            record.key_id, record.job_id, status, now=now, expires_at=expires_at, result=result, error=error
        ):
            return  # another delivery finished it (and sends the webhook)
        if not record.webhook_url:
            return
        done = await store.get(record.key_id, record.job_id)
        if done is not None and done.webhook_url:
            body = json.dumps(job_view(done), separators=(",", ":")).encode()
            await self._jobs.webhooks.deliver(done.webhook_url, body, done.key_id, done.job_id)


def parse(body: str) -> JobMessage:
    try:
        return JobMessage.model_validate_json(body)
    except ValidationError as exc:
        logger.warning("invalid job message", extra={"errors": exc.error_count()})
        raise InvalidMessageError(f"not a job message: {exc.error_count()} errors") from exc


def _seed(message: JobMessage, now: float, ttl_s: int) -> JobRecord:
    """The record a claim creates for a job that was put straight on the queue."""
    return JobRecord(
        job_id=message.job_id,
        key_id=message.key_id,
        status=JobStatus.QUEUED,
        request=message.request.model_dump_json(exclude_none=True, by_alias=True).encode(),
        created_at=message.submitted_at or now,
        updated_at=now,
        expires_at=now + ttl_s,
        webhook_url=message.webhook_url,
        metadata=dict(message.metadata),
    )
