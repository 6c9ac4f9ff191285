"""The ``JobStore`` port: async jobs' status and result, owned by the tenant of the key that
submitted them (that key is charged; every key of the tenant reads the job).

A job moves ``queued → running → succeeded | failed``, or ``queued → cancelled``. Every move is
conditional, so two deliveries of one SQS message cannot both run it:

- :meth:`JobStore.claim` takes a job that is queued, unknown (a message put straight on the queue),
  or running without an answer and past its lease (its worker died before the provider answered);
- :meth:`JobStore.finish` ends a running job, under the claim that runs it; the worker stores the
  provider's answer this way right after the provider call and before the charge, so a worker
  that crashes afterwards leaves a finished job behind instead of one that would call the
  provider again;
- :meth:`JobStore.checkpoint` stores an answer on a job that stays running (what workers before
  the combined final write did; a job left so is finished from it by the next delivery);
- :meth:`JobStore.release` hands a job whose attempt failed transiently back to the queue;
- :meth:`JobStore.cancel` ends a queued job.

Jobs are keyed by (tenant, job id): another tenant's job is simply absent. Records expire at
``expires_at`` (the table's TTL), and an expired record reads as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: str
    key_id: str  # the key that submitted the job and is charged for it
    tenant: str  # the key's tenant: it owns the job (reads, lists, cancels it; webhook secret)
    status: JobStatus
    request: bytes  # the job's request, JSON
    created_at: float
    updated_at: float
    expires_at: float
    webhook_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    kind: str = "chat"  # the request's dialect: "chat", "messages" or "embeddings" (result in it)
    attempts: int = 0  # claims so far; a claim's number is its token in checkpoint and finish
    lease_until: float = 0.0  # a running job's claim is good until then
    result: bytes | None = None  # the answer's JSON, in the job's dialect
    error: bytes | None = None  # a failed job's error body, JSON
    notified: bool = False  # its webhook was delivered (a redelivered message delivers it otherwise)

    @property
    def answered(self) -> bool:
        """The provider's answer is stored: never call it again for this job."""
        return self.result is not None


@dataclass(frozen=True, slots=True)
class Claim:
    won: bool
    record: JobRecord | None  # after the claim when won, else as found (None: absent)


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[JobRecord]
    next_after: str | None  # pass as ``after`` for the next page; None: this was the last page


class JobStore(Protocol):
    async def create(self, record: JobRecord) -> bool:
        """Store a new job; False (nothing written) when the tenant already has this job id.
        Raises ``StateUnavailableError``."""
        ...

    async def get(self, tenant: str, job_id: str) -> JobRecord | None:
        """The job; None when absent, another tenant's, or expired. Raises ``StateUnavailableError``."""
        ...

    async def claim(self, seed: JobRecord, *, now: float, lease_until: float, stored: bool = False) -> Claim:
        """Mark the job running (``attempts`` + 1, leased until ``lease_until``) if it is queued,
        absent (then ``seed``'s fields are stored), or running unanswered with a lease past ``now``
        — and only when it is ``seed.key_id``'s (a job id another key of the tenant already used
        is never taken over). ``stored``: a hint that the job was most likely stored at submission
        (an adapter may try the claim of an existing job first); the outcome is the same either
        way. Raises ``StateUnavailableError``."""
        ...

    async def checkpoint(self, tenant: str, job_id: str, *, attempt: int, result: bytes, now: float) -> bool:
        """Store the answer of a running job, only while claim number ``attempt`` still holds it.
        Raises ``StateUnavailableError``."""
        ...

    async def release(self, tenant: str, job_id: str, *, attempt: int, now: float) -> bool:
        """Put a running, unanswered job back to queued (its attempt failed in a way worth
        retrying), only while claim number ``attempt`` holds it. Raises ``StateUnavailableError``."""
        ...

    async def finish(
        self,
        tenant: str,
        job_id: str,
        status: JobStatus,
        *,
        now: float,
        expires_at: float,
        attempt: int | None = None,
        result: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        """End a running job (``status`` is final), only while claim number ``attempt`` holds it
        when given; False when it is not running (or another claim holds it). ``result`` None
        keeps a checkpointed one. Raises ``StateUnavailableError``."""
        ...

    async def mark_notified(self, tenant: str, job_id: str) -> None:
        """Record that a finished job's webhook was delivered. Raises ``StateUnavailableError``."""
        ...

    async def cancel(self, tenant: str, job_id: str, *, now: float) -> Claim:
        """Cancel a queued job (``won``); otherwise the job as found. Raises ``StateUnavailableError``."""
        ...

    async def list(
        self, tenant: str, *, status: JobStatus | None = None, limit: int = 20, after: str | None = None
    ) -> JobPage:
        """The tenant's jobs, newest first (job ids sort by creation time), only ``status`` ones
        when given, at most ``limit``, starting after job id ``after``. Raises
        ``StateUnavailableError``."""
        ...
