"""Jobs as the API sees them: submit (batch limit, Idempotency-Key, SSRF check), get, list, cancel.

A submission stores each job as ``queued`` and then enqueues its message; the worker is idempotent
per job id, so a message sent twice (a retried submission, a producer's retry) runs the job once.
Jobs belong to the submitting key's tenant (every key of the tenant reads them); the submitting
key is the one charged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import time
from typing import Any

from switchyard.dialects.anthropic import chat_request_from_anthropic
from switchyard.errors import GatewayError, InvalidRequestError
from switchyard.jobs.guard import UnsafeTargetError, WebhookGuard
from switchyard.jobs.queue import JobQueue, QueueUnavailableError
from switchyard.jobs.schema import (
    JOB_MESSAGE,
    ChatJobSpec,
    MessagesJobSpec,
    idempotent_job_id,
    new_job_id,
)
from switchyard.jobs.webhooks import WebhookSender
from switchyard.state.jobs import JobPage, JobRecord, JobStatus, JobStore


@dataclass(frozen=True, slots=True)
class JobLimits:
    ttl_s: int = 7 * 86400  # how long a job's record (and result) is kept
    lease_s: float = 900.0  # a claim's hold; below the queue's visibility timeout
    max_batch: int = 100


class JobsService:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        guard: WebhookGuard,
        webhooks: WebhookSender,
        limits: JobLimits,
        *,
        clock: Callable[[], float] = time,
        closers: Sequence[Callable[[], Any]] = (),
    ) -> None:
        self.store = store
        self.queue = queue
        self.guard = guard
        self.webhooks = webhooks
        self.limits = limits
        self.clock = clock
        self._closers = list(closers)

    async def submit(
        self,
        specs: Sequence[ChatJobSpec | MessagesJobSpec],
        key_id: str,
        tenant: str,
        idempotency_key: str | None = None,
    ) -> list[JobRecord]:
        """Raises InvalidRequestError (too many jobs, a streaming or untranslatable request, unsafe
        webhook), GatewayError (queue down)."""
        if len(specs) > self.limits.max_batch:
            raise InvalidRequestError(f"at most {self.limits.max_batch} jobs per submission", param="jobs")
        for i, spec in enumerate(specs):
            _check_request(spec, f"jobs[{i}].request" if len(specs) > 1 else "request")
        for url in {spec.webhook_url for spec in specs if spec.webhook_url}:
            try:
                await self.guard.check(url)
            except UnsafeTargetError as exc:
                raise InvalidRequestError(str(exc), param="webhook_url") from exc
        now = self.clock()
        records = [
            self._record(spec, key_id, tenant, idempotency_key, i, now) for i, spec in enumerate(specs)
        ]
        created = await asyncio.gather(*(self.store.create(r) for r in records))
        for i, fresh in enumerate(created):
            if not fresh:  # the same Idempotency-Key again: answer with the jobs it made
                records[i] = await self.store.get(tenant, records[i].job_id) or records[i]
        # Jobs still queued are sent again: an earlier submission may have failed to enqueue them,
        # and the worker runs each job id once whatever number of messages name it.
        bodies = [message_body(r) for r in records if r.status == JobStatus.QUEUED]
        try:
            await self.queue.send(bodies)
        except QueueUnavailableError as exc:
            raise GatewayError(
                "the jobs queue is unavailable; retry", status=503, retry_after=1.0, code="queue_unavailable"
            ) from exc
        return records

    def _record(
        self,
        spec: ChatJobSpec | MessagesJobSpec,
        key_id: str,
        tenant: str,
        idem: str | None,
        index: int,
        now: float,
    ) -> JobRecord:
        job_id = idempotent_job_id(key_id, idem, index) if idem else new_job_id(now)
        return JobRecord(
            job_id=job_id,
            key_id=key_id,
            tenant=tenant,
            kind=spec.kind,
            status=JobStatus.QUEUED,
            request=spec.request.model_dump_json(exclude_none=True, by_alias=True).encode(),
            created_at=now,
            updated_at=now,
            expires_at=now + self.limits.ttl_s,
            webhook_url=spec.webhook_url,
            metadata=dict(spec.metadata),
        )

    async def get(self, tenant: str, job_id: str) -> JobRecord | None:
        return await self.store.get(tenant, job_id)

    async def list(self, tenant: str, *, status: JobStatus | None, limit: int, after: str | None) -> JobPage:
        return await self.store.list(tenant, status=status, limit=limit, after=after)

    async def cancel(self, tenant: str, job_id: str) -> tuple[bool, JobRecord | None]:
        claim = await self.store.cancel(tenant, job_id, now=self.clock())
        return claim.won, claim.record

    async def aclose(self) -> None:
        for close in self._closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result


def _check_request(spec: ChatJobSpec | MessagesJobSpec, param: str) -> None:
    """Refuse at submission what the worker could only fail later."""
    if spec.request.stream:
        # Nobody listens to a job's answer as it is made: it is stored whole. Ignoring the flag
        # silently would hide the caller's mistake (direct queue messages cannot be answered, so
        # the worker drops it there).
        raise InvalidRequestError(
            "Jobs do not stream: remove `stream` (a job's result is stored whole and read with "
            "GET /v1/jobs/{id} or delivered to its webhook).",
            param=f"{param}.stream",
            code="stream_not_supported",
        )
    if isinstance(spec, MessagesJobSpec):
        try:
            chat_request_from_anthropic(spec.request)
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                exc.message, param=f"{param}.{exc.param}" if exc.param else param
            ) from exc


def message_body(record: JobRecord) -> str:
    """The queue message of a stored job (the same schema direct producers use)."""
    message = {
        "version": 1,
        "job_id": record.job_id,
        "key_id": record.key_id,
        "kind": record.kind,
        "request": json.loads(record.request),
        "metadata": record.metadata,
        "submitted_at": record.created_at,
    }
    if record.webhook_url:
        message["webhook_url"] = record.webhook_url
    return JOB_MESSAGE.dump_json(
        JOB_MESSAGE.validate_python(message), exclude_none=True, by_alias=True
    ).decode()


def job_view(record: JobRecord) -> dict[str, Any]:
    """A job as ``GET /v1/jobs/{id}`` and webhooks show it."""
    view: dict[str, Any] = {
        "id": record.job_id,
        "object": "job",
        "kind": record.kind,
        "status": record.status.value,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "expires_at": record.expires_at,
        "metadata": record.metadata,
    }
    if record.status == JobStatus.SUCCEEDED and record.result is not None:
        view["result"] = json.loads(record.result)
    if record.error is not None:
        # Stored in the OpenAI error shape ({"error": {...}}); shown as the job's own field,
        # so that a reader finds ``error.code``, not ``error.error.code``.
        stored = json.loads(record.error)
        view["error"] = stored.get("error", stored) if isinstance(stored, dict) else stored
    return view
