"""The attempt loop: try candidates in order within one deadline, as the error table says.

Each failed attempt is classified (``ProviderError.kind``) and :data:`switchyard.errors.POLICY`
decides: retry the same deployment (after Retry-After or backoff), move to the next one, only
consider larger-context deployments, or stop. ``retry.max_attempts`` bounds upstream calls.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import monotonic, perf_counter
from typing import TYPE_CHECKING

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.config.routing import RetryConfig
from switchyard.errors import Action, GatewayError, Kind, ProviderError
from switchyard.events import KEY_REJECTED, EventPublisher
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.limits.enforce import NO_GRANT, DeploymentLimits, Grant
from switchyard.limits.lease import Denial
from switchyard.providers.base import Provider, Target
from switchyard.routing.backoff import backoff_delay, wait_for_retry
from switchyard.routing.breaker import Admission, Breakers
from switchyard.routing.select import Candidate, RouteTable, within_output_limit

if TYPE_CHECKING:
    from switchyard.metrics.requests import RequestMetrics

_MAX_RATE_LIMIT_WAITS = 2  # per deployment, then fail over
_MAX_SERVER_RETRIES = 1  # per deployment (DESIGN §3: one retry with backoff)
_DEFAULT_RETRY_AFTER_S = 1.0


# One upstream call: the buffered answer, or (for streaming) a stream already past its first event,
# so that every failure before the first token is still the loop's to retry or fail over.
type Call[R] = Callable[[Provider, ChatRequest, Target], Awaitable[R]]


@dataclass(slots=True)
class Outcome[T]:
    result: T
    candidate: Candidate
    attempts: int
    # The serving deployment's limit grant: settle it with the answer's tokens once it is over.
    grant: Grant = NO_GRANT

    @property
    def completion(self) -> T:
        return self.result


async def buffered_call(provider: Provider, request: ChatRequest, target: Target) -> ChatCompletion:
    return await provider.chat(request, target)


@dataclass(slots=True)
class _Run:
    """What one request has seen so far."""

    deadline: float
    attempts: int = 0
    failures: list[ProviderError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # deployments an open breaker kept out
    limited: list[float] = field(default_factory=list)  # retry hints of deployments at their limits
    context_floor: int | None = None  # set after context_length: only larger windows qualify


@dataclass(slots=True)
class _Tries:
    """What one deployment has been given within one request."""

    rate_waits: int = 0
    server_retries: int = 0
    backup_key: str | None = None  # set once the primary key was rejected


class Router:
    def __init__(
        self,
        table: RouteTable,
        providers: dict[str, Provider],
        breakers: Breakers,
        keys: ProviderKeys,
        retry: RetryConfig,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limits: DeploymentLimits | None = None,
        events: EventPublisher | None = None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self._metrics = metrics  # upstream latency per provider, fallbacks
        self._limits = limits
        self._events = events  # a provider key rejected (401/403) is announced here
        self._table = table
        self._providers = providers
        self._breakers = breakers
        self._keys = keys
        self._retry = retry
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep

    async def run[T](self, request: ChatRequest, timeout_s: float, call: Call[T]) -> Outcome[T]:
        """Answer ``request`` from the first candidate that can, through the upstream ``call``
        (:func:`buffered_call`, or a stream's opening). Raises NotFoundError for an unknown model,
        ProviderError for a stop-kind failure (400s), GatewayError when every candidate failed or
        none could be tried. The answering deployment's limit grant comes back in the outcome: its
        caller settles it with the answer's tokens."""
        run = _Run(deadline=self._clock() + timeout_s)
        candidates = within_output_limit(
            self._table.candidates(request.model, self._rng), request.output_limit, _output_param(request)
        )
        for index, cand in enumerate(candidates):
            if self._out_of_budget(run):
                break
            if not _fits_context(cand, run.context_floor):
                continue
            if await self._breakers.admit(cand.deployment_id) is Admission.SKIP:
                run.skipped.append(cand.deployment_id)
                continue
            grant = await self._admit_limits(cand, request, run)
            if grant is None:
                continue
            result: T | None = None
            try:
                result = await self._try_deployment(request, cand, run, call)
            finally:
                if result is None:
                    grant.settle(0)  # failed (or raised): nothing was served, the tokens go back
            if result is not None:
                if index and self._metrics is not None:
                    self._metrics.fallback()  # not the first candidate: a fallback answered
                return Outcome(result, cand, run.attempts, grant)
        raise await self._exhausted(run)

    async def _admit_limits(self, cand: Candidate, request: ChatRequest, run: _Run) -> Grant | None:
        """The deployment's own limits: a grant, or None to skip it (like an open breaker)."""
        if self._limits is None:
            return NO_GRANT
        admitted = await self._limits.admit(cand.deployment, request)
        if isinstance(admitted, Denial):
            run.limited.append(admitted.retry_after_s)
            return None
        return admitted

    async def _try_deployment[R](
        self, request: ChatRequest, cand: Candidate, run: _Run, call: Call[R]
    ) -> R | None:
        """Calls one deployment, retrying it as the policy allows; None means fail over."""
        provider = self._providers[cand.provider_name]
        tries = _Tries()
        while not self._out_of_budget(run):
            try:
                target = await self._target(cand, run, tries.backup_key)
                run.attempts += 1  # counts upstream calls only: a missing key is not one
                started = perf_counter()
                result = await call(provider, request, target)
            except ProviderError as exc:
                run.failures.append(exc)
                if exc.policy.trips_breaker:
                    await self._breakers.failure(cand.deployment_id)
                if exc.policy.action is Action.STOP:
                    raise
                if await self._again(exc, cand, run, tries):
                    continue
                return None
            if self._metrics is not None:
                self._metrics.upstream(cand.provider_name, perf_counter() - started)
            await self._breakers.success(cand.deployment_id)
            return result
        return None

    async def _again(self, exc: ProviderError, cand: Candidate, run: _Run, tries: _Tries) -> bool:
        """What the policy says after a failed call to ``cand``: True to call it again (after the
        wait it needs), False to fail over (parking it, or raising the context floor, first)."""
        match exc.policy.action:
            case Action.RETRY_AFTER if tries.rate_waits < _MAX_RATE_LIMIT_WAITS:
                tries.rate_waits += 1
                return await self._wait(exc.retry_after, tries.rate_waits - 1, run)
            case Action.RETRY_ONCE if tries.server_retries < _MAX_SERVER_RETRIES:
                tries.server_retries += 1
                return await self._wait(None, tries.server_retries - 1, run)
            case Action.NEXT_PARK:
                await self._breakers.park(cand.deployment_id, self._retry.quota_park_s)
            case Action.NEXT_LARGER_CONTEXT:
                run.context_floor = max(run.context_floor or 0, cand.context_window or 0)
            case Action.RETRY_BACKUP_KEY if tries.backup_key is None:
                tries.backup_key = await self._key_rejected(cand, exc)
                return tries.backup_key is not None
        return False

    async def _key_rejected(self, cand: Candidate, exc: ProviderError) -> str | None:
        """Announce a rejected provider key (only an upstream's 401/403 says so: a key that could
        not be read is no news) and return the backup key to retry once with, if there is one."""
        backup = await self._keys.backup(cand.provider_name)
        if self._events is not None and exc.upstream_status in (401, 403):
            detail = {
                "provider": cand.provider_name,
                "deployment": cand.deployment_id,
                "status": exc.upstream_status,
                "backup_available": backup is not None,
            }
            await self._events.publish(KEY_REJECTED, detail)
        return backup

    async def _target(self, cand: Candidate, run: _Run, api_key: str | None = None) -> Target:
        prov, dep = cand.provider, cand.deployment
        remaining = run.deadline - self._clock()
        return Target(
            provider=cand.provider_name,
            deployment_id=cand.deployment_id,
            upstream_model=dep.model,
            base_url=prov.base_url,
            api_key=api_key or await self._keys.get(cand.provider_name),
            timeout_s=max(0.001, min(dep.timeout_s or prov.timeout_s, remaining)),
            connect_timeout_s=prov.connect_timeout_s,
            headers=prov.headers,
            stream_idle_timeout_s=prov.stream_idle_timeout_s,
        )

    async def _wait(self, retry_after: float | None, retry_number: int, run: _Run) -> bool:
        delay = backoff_delay(retry_number, self._retry.base_delay_s, self._retry.max_delay_s, self._rng)
        wait = wait_for_retry(
            retry_after,
            delay,
            max_wait_s=self._retry.max_retry_after_s,
            remaining_s=run.deadline - self._clock(),
        )
        if wait is None:
            return False
        if wait > 0:
            await self._sleep(wait)
        return True

    def _out_of_budget(self, run: _Run) -> bool:
        return run.attempts >= self._retry.max_attempts or self._clock() >= run.deadline

    async def _exhausted(self, run: _Run) -> Exception:
        """The error for a request no candidate answered."""
        last = run.failures[-1] if run.failures else None
        if last is not None and last.kind is Kind.CONTEXT_LENGTH:
            return last  # nothing with a larger window was left to try: the caller must shorten
        if last is None and run.context_floor is not None:
            return ProviderError(Kind.CONTEXT_LENGTH, "The request exceeds every configured context window.")
        limited = bool(run.failures) and all(
            f.kind in (Kind.RATE_LIMITED, Kind.QUOTA_EXCEEDED) for f in run.failures
        )
        limited = limited or (not run.failures and bool(run.limited))  # only our own limits held it
        hints = [f.retry_after for f in run.failures if f.retry_after is not None] + run.limited
        breaker_wait = await self._breakers.retry_after(run.skipped) if run.skipped else None
        if breaker_wait is not None:
            hints.append(breaker_wait)
        retry_after = max(1.0, min(hints)) if hints else _DEFAULT_RETRY_AFTER_S
        if limited:
            return GatewayError(
                "Every deployment for this model is rate-limited; retry later.",
                status=429,
                retry_after=retry_after,
                last=last,
                code="rate_limit_exceeded",
            )
        if last is not None and last.kind is Kind.TIMEOUT and self._clock() >= run.deadline:
            return GatewayError(
                "The request's deadline passed before any deployment answered.",
                status=504,
                retry_after=retry_after,
                last=last,
                code="timeout",
            )
        if last is None:
            message = "No deployment for this model is available right now (circuit open); retry later."
        else:
            message = f"No deployment for this model could answer; the last failure was: {last.message}"
        return GatewayError(message, status=503, retry_after=retry_after, last=last)


def _fits_context(cand: Candidate, floor: int | None) -> bool:
    if floor is None:
        return True
    return cand.context_window is not None and cand.context_window > floor


def _output_param(request: ChatRequest) -> str:
    """The field the caller set the output limit with (Anthropic callers: their ``max_tokens``)."""
    return "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
