"""A streamed answer: canonical chunks, then how the stream ended, and one close that settles all.

The pipeline hands a :class:`Streamed` over once the upstream has produced its first token (or
a stage answered the call, whose answer is replayed as chunks). Iterating it yields
:class:`~switchyard.api.stream.ChatCompletionChunk` values as they pass through every stage's
``chunks`` hook, then exactly one :class:`StreamEnd` (complete: usage and cost) or
:class:`StreamFailed` (a failure after the first token: the provider's, a stage's refusal, or a
bug; never a silent truncation). A provider failure here counts against its deployment's breaker.

:meth:`Streamed.aclose` must run however the response ended (complete, failed, client gone; the
HTTP layer calls it shielded): it closes the upstream, accounts what was sent if the stream did
not finish (partial), and leaves the admission scope, so limits, budgets and usage settle once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from time import perf_counter

import anyio

from switchyard.accounting import Accounting, StreamUsage, UsageRecord
from switchyard.api.chat import Usage
from switchyard.api.stream import ChatCompletionChunk, chunks_of
from switchyard.core.admission import Admission
from switchyard.core.call import Answer, Call, ServedBy, answer_headers
from switchyard.errors import Kind, ProviderError, SwitchyardError
from switchyard.metrics.requests import RequestMetrics
from switchyard.observability import logger
from switchyard.routing.attempt import Outcome
from switchyard.routing.breaker import Breakers
from switchyard.routing.stream import OpenedStream


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The stream completed: what was accounted."""

    usage: Usage
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream failed after it began; ``cost_usd`` is what the partial answer cost."""

    error: SwitchyardError
    cost_usd: Decimal


type StreamEvent = ChatCompletionChunk | StreamEnd | StreamFailed


@dataclass(frozen=True, slots=True)
class StreamParts:
    call: Call
    scope: Admission
    accounting: Accounting
    breakers: Breakers
    metrics: RequestMetrics


class Streamed:
    """Iterate once; :meth:`aclose` on every path (idempotent)."""

    __slots__ = ("_closed", "_events", "_outcome", "_parts", "_replayed", "_usage", "headers")

    def __init__(
        self,
        parts: StreamParts,
        served_by: ServedBy,
        outcome: Outcome[OpenedStream] | None,
        replayed: Answer | None,
    ) -> None:
        self._parts = parts
        self._outcome = outcome
        self._replayed = replayed
        self._usage = StreamUsage()
        self._closed = False
        # The cost is only known at the end: a stream's writer sends it last.
        headers = answer_headers(parts.call, served_by)
        headers.pop("x-switchyard-cost-usd", None)
        self.headers = headers
        self._events = self._run()

    @classmethod
    def upstream(cls, parts: StreamParts, outcome: Outcome[OpenedStream]) -> Streamed:
        cand = outcome.candidate
        served = ServedBy(cand.provider_name, cand.deployment.model, cand.deployment_id, outcome.attempts)
        return cls(parts, served, outcome, None)

    @classmethod
    def replay(cls, parts: StreamParts, answer: Answer) -> Streamed:
        """A call a stage answered (a cache hit), streamed from its canonical answer."""
        return cls(parts, answer.served_by, None, answer)

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events

    async def _run(self) -> AsyncGenerator[StreamEvent]:
        call = self._parts.call
        chunks: AsyncIterator[ChatCompletionChunk] = self._source()
        for entry in reversed(self._parts.scope.entries):
            chunks = entry.chunks(call, chunks)
        try:
            async for chunk in chunks:
                yield chunk
        except SwitchyardError as exc:
            yield await self._failed(exc)
            return
        except Exception:
            logger.exception("stream failed", extra={"request_id": call.request_id})
            yield await self._failed(
                SwitchyardError("The gateway failed while streaming the answer.", kind=Kind.INTERNAL)
            )
            return
        record = self._account(partial=False)
        # Settled before the caller sees the end: a request sent the moment this stream ends
        # finds its answer cached and the key's limits and budgets charged with its real cost.
        await self._parts.scope.leave(served=True)
        yield StreamEnd(record.usage, record.cost_usd)

    async def _source(self) -> AsyncGenerator[ChatCompletionChunk]:
        if self._replayed is not None:
            for chunk in chunks_of(self._replayed.parsed()):
                yield chunk
            return
        assert self._outcome is not None
        opened = self._outcome.result
        observe = self._usage.observe
        for chunk in opened.head:
            observe(chunk)
            yield chunk
        async for chunk in opened.rest:
            observe(chunk)
            yield chunk

    async def _failed(self, exc: SwitchyardError) -> StreamFailed:
        """The closing event after a failure past the first token (not retried: the client
        already has part of the answer)."""
        call = self._parts.call
        deployment = self._outcome.candidate.deployment_id if self._outcome is not None else ""
        if isinstance(exc, ProviderError):
            if exc.policy.trips_breaker and deployment:
                await self._parts.breakers.failure(deployment)
            exc = ProviderError(exc.kind, f"The stream was interrupted after it began: {exc.message}")
        logger.info(
            "stream interrupted",
            extra={"request_id": call.request_id, "deployment": deployment, "kind": exc.kind.value},
        )
        self._parts.metrics.stream_failed(exc, exc.status)
        record = self._account(partial=True)
        return StreamFailed(exc, record.cost_usd)

    def _account(self, *, partial: bool) -> UsageRecord:
        """The stream's usage, priced once: the upstream's own when it sent any, else estimated
        from what was sent. A replayed answer keeps the record its stage made."""
        call = self._parts.call
        if call.record is not None:
            return call.record
        if self._outcome is None:  # a replayed answer its stage did not account: it cost nothing
            assert self._replayed is not None
            call.record = _unpriced(call, self._replayed.served_by)
            return call.record
        usage, estimated = self._usage.final(call.request)
        call.record = self._parts.accounting.record(
            self._outcome.candidate,
            usage,
            request_id=call.request_id,
            attempts=self._outcome.attempts,
            latency_s=perf_counter() - call.started,
            streamed=True,
            partial=partial,
            estimated=estimated,
        )
        return call.record

    async def aclose(self) -> None:
        """Idempotent; runs however the response ended. A stream that did not finish (the client
        went away) is accounted as partial, from what was sent so far."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                await self._events.aclose()
                if self._outcome is not None:
                    await self._outcome.result.aclose()
            finally:
                self._account(partial=True)
                await self._parts.scope.leave(served=True)


def _unpriced(call: Call, served_by: ServedBy) -> UsageRecord:
    return UsageRecord(
        request_id=call.request_id,
        public_model=call.asked_model,
        provider=served_by.provider,
        deployment_id=served_by.deployment_id,
        upstream_model=served_by.model,
        usage=Usage(),
        cost_usd=Decimal(0),
        attempts=served_by.attempts,
        latency_ms=0.0,
        streamed=True,
    )
