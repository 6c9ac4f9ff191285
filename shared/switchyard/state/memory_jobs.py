"""The in-memory ``JobStore``: one process's jobs, with the conditional moves of the DynamoDB one."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import replace
from time import time

from switchyard.state.jobs import Claim, JobPage, JobRecord, JobStatus


class MemoryJobStore:
    def __init__(self, *, clock: Callable[[], float] = time) -> None:
        self._jobs: dict[tuple[str, str], JobRecord] = {}
        self._clock = clock

    def _live(self, tenant: str, job_id: str) -> JobRecord | None:
        record = self._jobs.get((tenant, job_id))
        if record is None or record.expires_at <= self._clock():
            return None
        return record

    async def create(self, record: JobRecord) -> bool:
        if self._live(record.tenant, record.job_id) is not None:
            return False
        self._jobs[(record.tenant, record.job_id)] = record
        return True

    async def get(self, tenant: str, job_id: str) -> JobRecord | None:
        return self._live(tenant, job_id)

    async def claim(self, seed: JobRecord, *, now: float, lease_until: float, stored: bool = False) -> Claim:
        current = self._live(seed.tenant, seed.job_id)
        if current is not None and (current.key_id != seed.key_id or not claimable(current, now)):
            return Claim(False, current)
        base = current or seed
        record = replace(
            base,
            status=JobStatus.RUNNING,
            attempts=base.attempts + 1,
            lease_until=lease_until,
            updated_at=now,
        )
        self._jobs[(seed.tenant, seed.job_id)] = record
        return Claim(True, record)

    async def checkpoint(self, tenant: str, job_id: str, *, attempt: int, result: bytes, now: float) -> bool:
        current = self._live(tenant, job_id)
        if current is None or current.status != JobStatus.RUNNING or current.attempts != attempt:
            return False
        self._jobs[(tenant, job_id)] = replace(current, result=result, updated_at=now)
        return True

    async def mark_notified(self, tenant: str, job_id: str) -> None:
        current = self._live(tenant, job_id)
        if current is not None:
            self._jobs[(tenant, job_id)] = replace(current, notified=True)

    async def release(self, tenant: str, job_id: str, *, attempt: int, now: float) -> bool:
        current = self._live(tenant, job_id)
        if current is None or current.status != JobStatus.RUNNING or current.attempts != attempt:
            return False
        if current.answered:
            return False
        self._jobs[(tenant, job_id)] = replace(current, status=JobStatus.QUEUED, updated_at=now)
        return True

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
        current = self._live(tenant, job_id)
        if current is None or current.status != JobStatus.RUNNING:
            return False
        if attempt is not None and current.attempts != attempt:
            return False
        self._jobs[(tenant, job_id)] = replace(
            current,
            status=status,
            result=result if result is not None else current.result,
            error=error,
            updated_at=now,
            expires_at=expires_at,
        )
        return True

    async def cancel(self, tenant: str, job_id: str, *, now: float) -> Claim:
        current = self._live(tenant, job_id)
        if current is None or current.status != JobStatus.QUEUED:
            return Claim(False, current)
        record = replace(current, status=JobStatus.CANCELLED, updated_at=now)
        self._jobs[(tenant, job_id)] = record
        return Claim(True, record)

    async def list(
        self, tenant: str, *, status: JobStatus | None = None, limit: int = 20, after: str | None = None
    ) -> JobPage:
        ids = sorted((j for t, j in self._jobs if t == tenant), reverse=True)
        found: builtins.list[JobRecord] = []
        for job_id in ids:
            if after is not None and job_id >= after:
                continue
            record = self._live(tenant, job_id)
            if record is None or (status is not None and record.status != status):
                continue
            if len(found) == limit:
                return JobPage(found, found[-1].job_id)
            found.append(record)
        return JobPage(found, None)


def claimable(record: JobRecord, now: float) -> bool:
    """Queued, or running unanswered past its lease (its worker died before the provider answered)."""
    if record.status == JobStatus.QUEUED:
        return True
    return record.status == JobStatus.RUNNING and not record.answered and record.lease_until <= now
