"""DynamoDB trouble degrades, never breaks: wrappers that fall back to memory.

Each wrapper puts a shared adapter (primary) in front of an in-memory one (fallback). When the
primary raises ``StateUnavailableError`` (throttled, timed out, unreachable), the call is served by
the fallback, and for ``retry_s`` every call goes straight to the fallback, so a dead endpoint does
not cost each request a timeout. Every degraded call is counted (one metric per component); a
warning is logged at most once per ``log_interval_s``, with the count since the last one.

Limits may be configured to fail closed instead: then a degraded limit check raises a 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from time import monotonic

from switchyard.errors import GatewayError
from switchyard.metrics.sink import MetricSink
from switchyard.observability import logger
from switchyard.state.ports import (
    BreakerRecord,
    BreakerStore,
    KeptValue,
    LimitResult,
    LimitStore,
    ResponseCache,
    ScopeState,
    StateUnavailableError,
    WindowCharge,
)


class Degradation:
    """The health of one component's primary store, and the one place degradations are reported."""

    def __init__(
        self,
        component: str,
        metric: str,
        metrics: MetricSink,
        *,
        retry_s: float = 5.0,
        log_interval_s: float = 60.0,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.component = component
        self._metric = metric
        self._metrics = metrics
        self._retry_s = retry_s
        self._log_interval_s = log_interval_s
        self._clock = clock
        self._down_until = float("-inf")
        self._last_log = float("-inf")
        self._unlogged = 0

    @property
    def degraded(self) -> bool:
        return self._clock() < self._down_until

    async def run[T](self, primary: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]) -> T:
        if not self.degraded:
            try:
                return await primary()
            except StateUnavailableError as exc:
                self._down_until = self._clock() + self._retry_s
                self._report(exc)
                return await fallback()
        self._report(None)
        return await fallback()

    def _report(self, exc: StateUnavailableError | None) -> None:
        self._metrics.count(self._metric)
        self._unlogged += 1
        now = self._clock()
        if exc is None or now - self._last_log < self._log_interval_s:
            return
        logger.warning(
            "shared state unavailable: serving from memory",
            extra={"component": self.component, "error": str(exc), "degraded_calls": self._unlogged},
        )
        self._last_log, self._unlogged = now, 0


class DegradingBreakerStore:
    """Breaker state falls back to this instance's own (local) breakers."""

    def __init__(self, primary: BreakerStore, fallback: BreakerStore, degradation: Degradation) -> None:
        self._primary, self._fallback, self._degradation = primary, fallback, degradation

    async def load(self, deployment_id: str) -> BreakerRecord:
        return await self._degradation.run(
            lambda: self._primary.load(deployment_id), lambda: self._fallback.load(deployment_id)
        )

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        return await self._degradation.run(
            lambda: self._primary.save(deployment_id, record, expected_version=expected_version),
            lambda: self._fallback.save(deployment_id, record, expected_version=expected_version),
        )

    async def load_all(self) -> dict[str, BreakerRecord]:
        return await self._degradation.run(self._primary.load_all, self._fallback.load_all)


class DegradingLimitStore:
    """Limits fall back to per-instance counting (fail open), or refuse with 503 (fail closed)."""

    def __init__(
        self,
        primary: LimitStore,
        fallback: LimitStore,
        degradation: Degradation,
        *,
        fail_closed: bool = False,
        retry_after_s: float = 5.0,
    ) -> None:
        self._primary, self._fallback, self._degradation = primary, fallback, degradation
        self._fail_closed = fail_closed
        self._retry_after_s = retry_after_s

    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        return await self._degradation.run(
            lambda: self._primary.charge(scope, charges),
            lambda: self._open_fallback().charge(scope, charges),
        )

    async def hold(
        self, scope: str, holder: str, slots: int, *, max_slots: int, now: float, expires_at: float
    ) -> LimitResult:
        return await self._degradation.run(
            lambda: self._primary.hold(
                scope, holder, slots, max_slots=max_slots, now=now, expires_at=expires_at
            ),
            lambda: self._open_fallback().hold(
                scope, holder, slots, max_slots=max_slots, now=now, expires_at=expires_at
            ),
        )

    async def read(self, scope: str) -> ScopeState:
        return await self._degradation.run(
            lambda: self._primary.read(scope), lambda: self._open_fallback().read(scope)
        )

    def _open_fallback(self) -> LimitStore:
        """The fallback, unless configured to fail closed: then the request is refused."""
        if self._fail_closed:
            raise GatewayError(
                "Rate limits cannot be checked right now; retry later.",
                status=503,
                retry_after=self._retry_after_s,
                code="limits_unavailable",
            )
        return self._fallback


class DegradingResponseCache:
    """The cache falls back to this instance's memory: fewer hits, never an error."""

    def __init__(self, primary: ResponseCache, fallback: ResponseCache, degradation: Degradation) -> None:
        self._primary, self._fallback, self._degradation = primary, fallback, degradation

    @property
    def max_value_bytes(self) -> int:
        return min(self._primary.max_value_bytes, self._fallback.max_value_bytes)

    async def get(self, key: str) -> bytes | None:
        return await self._degradation.run(lambda: self._primary.get(key), lambda: self._fallback.get(key))

    async def get_kept(self, key: str) -> KeptValue | None:
        return await self._degradation.run(
            lambda: self._primary.get_kept(key), lambda: self._fallback.get_kept(key)
        )

    async def put(
        self, key: str, value: bytes, *, expires_at: float, keep_until: float | None = None
    ) -> None:
        await self._degradation.run(
            lambda: self._primary.put(key, value, expires_at=expires_at, keep_until=keep_until),
            lambda: self._fallback.put(key, value, expires_at=expires_at, keep_until=keep_until),
        )

    async def purges(self) -> dict[str, float]:
        # While degraded, entries come from the fallback too: its markers are the ones that apply.
        return await self._degradation.run(self._primary.purges, self._fallback.purges)

    async def purge(self, scope: str, at: float, *, forget_before: float) -> None:
        """Never degraded: a purge only this instance would see is no purge. Raises
        ``StateUnavailableError`` (the operator retries)."""
        await self._primary.purge(scope, at, forget_before=forget_before)
        await self._fallback.purge(scope, at, forget_before=forget_before)
