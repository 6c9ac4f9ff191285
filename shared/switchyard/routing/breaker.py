"""Per-deployment circuit breakers: a pure state machine over a shared :class:`BreakerStore`.

CLOSED → OPEN after ``failure_threshold`` failures within ``window_s``; OPEN → HALF_OPEN after
``cooldown_s``, admitting exactly one probe (the writer that wins the compare-and-set); HALF_OPEN →
CLOSED on the probe's success, back to OPEN on its failure. A probe that never reports (its instance
died) is given up after another cool-down so the deployment cannot stay half-open forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from time import time

from switchyard.config.routing import BreakerConfig
from switchyard.state.ports import BreakerRecord, BreakerStatus, BreakerStore

_CAS_TRIES = 3


class Admission(Enum):
    ALLOW = "allow"
    PROBE = "probe"
    SKIP = "skip"


def decide(rec: BreakerRecord, now: float, cfg: BreakerConfig) -> tuple[Admission, BreakerRecord | None]:
    """Whether a call may go to the deployment, and the record to write first (None: no write)."""
    if rec.parked_until > now:
        return Admission.SKIP, None
    if rec.status is BreakerStatus.CLOSED:
        return Admission.ALLOW, None
    waited = now - (rec.opened_at if rec.status is BreakerStatus.OPEN else rec.probe_started)
    if waited < cfg.cooldown_s:
        return Admission.SKIP, None
    probe = replace(rec, status=BreakerStatus.HALF_OPEN, probe_started=now, version=rec.version + 1)
    return Admission.PROBE, probe


def after_failure(rec: BreakerRecord, now: float, cfg: BreakerConfig) -> BreakerRecord | None:
    if rec.status is BreakerStatus.HALF_OPEN:
        return _opened(rec, now)
    if rec.status is BreakerStatus.OPEN:
        return None
    if now - rec.window_start > cfg.window_s:
        counted = replace(rec, failures=1, window_start=now, version=rec.version + 1)
    else:
        counted = replace(rec, failures=rec.failures + 1, version=rec.version + 1)
    return _opened(rec, now) if counted.failures >= cfg.failure_threshold else counted


def after_success(rec: BreakerRecord) -> BreakerRecord | None:
    if rec.status is BreakerStatus.CLOSED:
        return None  # no write on the hot path; the failure window ages out by itself
    return BreakerRecord(version=rec.version + 1)


def _opened(rec: BreakerRecord, now: float) -> BreakerRecord:
    return replace(
        rec, status=BreakerStatus.OPEN, opened_at=now, failures=0, window_start=now, version=rec.version + 1
    )


class Breakers:
    """Applies the state machine through compare-and-set writes, so concurrent instances sharing
    one store never both open a breaker twice or both probe."""

    def __init__(
        self,
        store: BreakerStore,
        config: BreakerConfig,
        clock: Callable[[], float] = time,
        *,
        on_open: Callable[[str], None] | None = None,  # the BreakerOpens metric
    ) -> None:
        self._on_open = on_open
        self._store = store
        self._config = config
        self._clock = clock

    async def admit(self, deployment_id: str) -> Admission:
        for _ in range(_CAS_TRIES):
            rec = await self._store.load(deployment_id)
            admission, new = decide(rec, self._clock(), self._config)
            if new is None or await self._store.save(deployment_id, new, expected_version=rec.version):
                return admission
        return Admission.SKIP  # lost every race: another instance is probing right now

    async def failure(self, deployment_id: str) -> None:
        await self._update(deployment_id, lambda rec, now: after_failure(rec, now, self._config))

    async def success(self, deployment_id: str) -> None:
        await self._update(deployment_id, lambda rec, _now: after_success(rec))

    async def park(self, deployment_id: str, seconds: float) -> None:
        def parked(rec: BreakerRecord, now: float) -> BreakerRecord:
            return replace(rec, parked_until=now + seconds, version=rec.version + 1)

        await self._update(deployment_id, parked)

    async def retry_after(self, deployment_ids: list[str]) -> float | None:
        """Seconds until the soonest of these deployments can be tried again, if any is blocked."""
        now = self._clock()
        waits = []
        for dep in deployment_ids:
            rec = await self._store.load(dep)
            if rec.parked_until > now:
                waits.append(rec.parked_until - now)
            elif rec.status is not BreakerStatus.CLOSED:
                start = rec.opened_at if rec.status is BreakerStatus.OPEN else rec.probe_started
                waits.append(max(0.0, start + self._config.cooldown_s - now))
        return min(waits) if waits else None

    async def summary(self) -> dict[str, str]:
        now = self._clock()
        return {
            dep: ("parked" if rec.parked_until > now else rec.status.value)
            for dep, rec in (await self._store.load_all()).items()
        }

    async def _update(
        self, deployment_id: str, change: Callable[[BreakerRecord, float], BreakerRecord | None]
    ) -> None:
        for _ in range(_CAS_TRIES):
            rec = await self._store.load(deployment_id)
            new = change(rec, self._clock())
            if new is None or await self._store.save(deployment_id, new, expected_version=rec.version):
                # Only the writer that won the compare-and-set counts: one opening, counted once.
                opened = new is not None and new.status is BreakerStatus.OPEN and rec.status is not new.status
                if opened and self._on_open is not None:
                    self._on_open(deployment_id)
                return
