"""The worker core: one job message → at most one provider call and at most one charge.

For each message: parse it, resolve the tenant of the key it names (through the gateway's key
store), :meth:`~switchyard.state.jobs.JobStore.claim` the job (a conditional write), run it
through the request pipeline (the router's own limits, cache, retries, fallback, cost and
budgets) and, right after the provider call and before the charge, write the job's final status
and result in one conditional write; then deliver the webhook. A "messages" job is translated to
the canonical chat request on the way in and its answer back to an Anthropic message on the way
out, so it is served, cached and charged exactly like a chat job.

The crash windows, precisely (docs/jobs.md):

1. before the claim: nothing happened; the redelivery runs the job.
2. claim → final write (the provider call itself): the redelivery finds the job running without an
   answer; it retries later until the lease lapses, then claims and calls the provider again. The
   first call was never charged (the charge comes after the final write), so the key is charged
   once; the provider may have served (and billed) the lost call: the one at-least-once window.
3. final write → charge: the job is done; the redelivery skips it without calling or charging;
   this usage is not charged (at most once: never twice).
4. charge → webhook: the job is done and charged; the webhook is not sent again (deliveries are
   retried in-process, not by redelivery).

Workers before the combined write stored the answer with a separate checkpoint and wrote the final
status after the charge; a job such a worker left running with an answer is finished from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from time import time
from typing import TYPE_CHECKING

from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.core import Answer, Call
from switchyard.dialects.anthropic import anthropic_response_from_chat, chat_request_from_anthropic
from switchyard.errors import AuthenticationError, InvalidRequestError, SwitchyardError
from switchyard.jobs.schema import JOB_MESSAGE, ChatJobMessage, MessagesJobMessage
from switchyard.jobs.service import JobsService, job_view
from switchyard.keys.auth import MASTER_TENANT
from switchyard.observability import logger
from switchyard.state.jobs import FINAL, JobRecord, JobStatus

if TYPE_CHECKING:
    from switchyard.compose.gateway import Gateway

type Message = ChatJobMessage | MessagesJobMessage


class InvalidMessageError(ValueError):
    """Not a job message: it goes back to the queue and, after maxReceiveCount, to the DLQ."""


class JobBusyError(Exception):
    """Another delivery is running this job: try again after the visibility timeout."""


class JobRetryError(Exception):
    """The attempt failed transiently (every deployment failed, rate limits): retry via SQS."""


@dataclass(frozen=True, slots=True)
class Ran:
    job_id: str
    outcome: str  # ran | failed | recovered | notified | duplicate | cancelled


class JobWorker:
    def __init__(self, gateway: Gateway, jobs: JobsService, *, clock: Callable[[], float] = time) -> None:
        self._gateway = gateway
        self._jobs = jobs
        self._clock = clock

    async def run(self, body: str) -> Ran:
        """Raises InvalidMessageError, JobBusyError, JobRetryError, StateUnavailableError, and
        GatewayError 503 when the key store cannot be read (the message is retried)."""
        message = parse(body)
        # The tenant comes from the key store, never from the message: a producer can only name
        # a key, and the key's real tenant owns the job (reads it, verifies its webhooks).
        tenant = await self._gateway.auth.tenant_by_id(message.key_id)
        if tenant is None:
            return await self._refuse(message)
        seed = _seed(message, tenant, self._clock(), self._jobs.limits.ttl_s)
        now = self._clock()
        # Messages made by POST /v1/jobs carry submitted_at, and their job is stored already.
        claim = await self._jobs.store.claim(
            seed,
            now=now,
            lease_until=now + self._jobs.limits.lease_s,
            stored=message.submitted_at is not None,
        )
        record = claim.record
        if claim.won and record is not None:
            return await self._execute(message, record)
        if record is not None and record.key_id != message.key_id:
            # Another key of the tenant already has this job id: running it would hand that
            # job's result to this message, so it goes to the DLQ (and its alarm) instead.
            raise InvalidMessageError(f"{message.job_id}: job id already used by another key of the tenant")
        if record is not None and _undelivered(record):
            # Finished, but its webhook never went out (the delivery that finished it died
            # before, or every try failed): at least once, receivers dedupe by job id.
            await self._notify(record)
            return Ran(message.job_id, "notified")
        if record is None or record.status in FINAL:
            return Ran(
                message.job_id,
                "cancelled" if record and record.status == JobStatus.CANCELLED else "duplicate",
            )
        if record.answered:  # a previous worker version checkpointed the answer, then crashed
            await self._finish(record, JobStatus.SUCCEEDED)
            return Ran(message.job_id, "recovered")
        raise JobBusyError(message.job_id)

    async def _execute(self, message: Message, record: JobRecord) -> Ran:
        store, job_id = self._jobs.store, record.job_id
        finished: list[JobRecord] = []
        # From the cache tenant_by_id just filled; also what the pipeline applies (models, limits).
        identity = await self._gateway.auth.identity_by_id(record.key_id)
        if identity is None:
            # Revoked since the job was queued (perhaps because it leaked): its tenant sees why.
            revoked = AuthenticationError("the job's key has been revoked", code="revoked_api_key")
            await self._finish(record, JobStatus.FAILED, error=_error_json(revoked))
            return Ran(job_id, "failed")

        call = Call(_chat_request(message), record.key_id, job_id, identity)
        try:
            async with self._gateway.pipeline.answer(call) as answer:
                if answer.record is not None and not answer.record.cache_hit:
                    # The result and the final status in one write, inside the pipeline's scope:
                    # before the charge, which comes when the scope is left.
                    done = await self._complete(record, _result(message, answer))
                    if done is None:
                        raise JobBusyError(job_id)  # our lease lapsed and another delivery took it
                    finished.append(done)
        except SwitchyardError as exc:
            # A spent budget stays spent until its period ends (hours): the job fails with
            # budget_exceeded now rather than cycling through SQS into the DLQ.
            if exc.policy.requeue:
                await store.release(record.tenant, job_id, attempt=record.attempts, now=self._clock())
                raise JobRetryError(f"{job_id}: {exc.kind}") from exc
            await self._finish(record, JobStatus.FAILED, error=_error_json(exc))
            return Ran(job_id, "failed")
        if finished:
            await self._notify(finished[0])
        else:  # answered from the cache: nothing was called, nothing is charged
            await self._finish(record, JobStatus.SUCCEEDED, result=_result(message, answer))
        return Ran(job_id, "ran")

    async def _complete(self, record: JobRecord, result: bytes) -> JobRecord | None:
        """The job succeeded with ``result``, under this delivery's claim; None: not ours anymore."""
        now = self._clock()
        expires_at = now + self._jobs.limits.ttl_s
        won = await self._jobs.store.finish(
            record.tenant,
            record.job_id,
            JobStatus.SUCCEEDED,
            now=now,
            expires_at=expires_at,
            attempt=record.attempts,
            result=result,
        )
        if not won:
            return None
        return replace(
            record, status=JobStatus.SUCCEEDED, result=result, updated_at=now, expires_at=expires_at
        )

    async def _finish(
        self, record: JobRecord, status: JobStatus, *, result: bytes | None = None, error: bytes | None = None
    ) -> None:
        now = self._clock()
        expires_at = now + self._jobs.limits.ttl_s
        if not await self._jobs.store.finish(
            record.tenant,
            record.job_id,
            status,
            now=now,
            expires_at=expires_at,
            attempt=record.attempts,
            result=result,
            error=error,
        ):
            return  # another delivery finished it (and sends the webhook)
        done = replace(
            record,
            status=status,
            result=result if result is not None else record.result,
            error=error,
            updated_at=now,
            expires_at=expires_at,
        )
        await self._notify(done)

    async def _notify(self, done: JobRecord) -> None:
        # Built from what this delivery wrote (its conditional write won): no read back.
        if done.webhook_url:
            body = json.dumps(job_view(done), separators=(",", ":")).encode()
            if await self._jobs.webhooks.deliver(done.webhook_url, body, done.tenant, done.job_id):
                await self._jobs.store.mark_notified(done.tenant, done.job_id)

    async def _refuse(self, message: Message) -> Ran:
        """A message naming a key that does not exist (or has expired): nobody can be charged,
        and no tenant owns it. The failure is recorded under the master key's tenant, where the
        operator reads it; retrying would not help, so the message is not failed back to SQS."""
        now = self._clock()
        logger.warning("job names an unknown key", extra={"job_id": message.job_id})
        problem = f"the job's key_id {message.key_id!r} names no key"
        unknown = InvalidRequestError(problem, code="invalid_key_id")
        seed = _seed(message, MASTER_TENANT, now, self._jobs.limits.ttl_s)
        failed = replace(seed, status=JobStatus.FAILED, error=_error_json(unknown))
        created = await self._jobs.store.create(failed)
        return Ran(message.job_id, "failed" if created else "duplicate")


def _error_json(exc: SwitchyardError) -> bytes:
    """A failed job's error, in the OpenAI error shape its caller would have had over HTTP."""
    error = {"error": {"message": exc.message, "type": exc.policy.error_type, "code": exc.code}}
    return json.dumps(error).encode()


def _undelivered(record: JobRecord) -> bool:
    finished = record.status in FINAL and record.status != JobStatus.CANCELLED
    return finished and bool(record.webhook_url) and not record.notified


def parse(body: str) -> Message:
    try:
        return JOB_MESSAGE.validate_json(body)
    except ValidationError as exc:
        logger.warning("invalid job message", extra={"errors": exc.error_count()})
        raise InvalidMessageError(f"not a job message: {exc.error_count()} errors") from exc


def _chat_request(message: Message) -> ChatRequest:
    """The canonical request, never streamed (a job's answer is stored whole). Raises
    InvalidRequestError for an Anthropic request that has no canonical form."""
    if isinstance(message, MessagesJobMessage):
        request = chat_request_from_anthropic(message.request)
    else:
        request = message.request
    return request.model_copy(update={"stream": None, "stream_options": None})


def _result(message: Message, answer: Answer) -> bytes:
    """The stored result in the job's dialect, from the canonical answer."""
    if not isinstance(message, MessagesJobMessage):
        return answer.body
    return anthropic_response_from_chat(answer.parsed()).model_dump_json().encode()


def _seed(message: Message, tenant: str, now: float, ttl_s: int) -> JobRecord:
    """The record a claim creates for a job that was put straight on the queue."""
    return JobRecord(
        job_id=message.job_id,
        key_id=message.key_id,
        tenant=tenant,
        kind=message.kind,
        status=JobStatus.QUEUED,
        request=message.request.model_dump_json(exclude_none=True, by_alias=True).encode(),
        created_at=message.submitted_at or now,
        updated_at=now,
        expires_at=now + ttl_s,
        webhook_url=message.webhook_url,
        metadata=dict(message.metadata),
    )
