"""Usage and cost of every answer, buffered or streamed, recorded in one place.

Both HTTP paths end in :meth:`Accounting.record`: a buffered answer once it is complete, a stream
when it ends for any reason (finished, failed mid-way, or the client went away; then ``partial``).
Usage is the upstream's own when it reported any, else estimated from text (``estimated``: about
four characters a token), so a cut-short stream is never free. Sinks (usage ledger, limit and
budget reconciliation) plug in with :meth:`Accounting.add_sink`; a failing sink is logged and
never fails the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from switchyard.api.chat import ChatCompletion, ChatRequest, TextPart, Usage
from switchyard.api.stream import ChatCompletionChunk, output_chars
from switchyard.config.prices import PriceTable
from switchyard.cost import candidate_price, cost_usd, format_usd
from switchyard.observability import logger
from switchyard.routing.attempt import Outcome
from switchyard.routing.select import Candidate


@dataclass(frozen=True, slots=True)
class UsageRecord:
    request_id: str
    public_model: str
    provider: str
    deployment_id: str
    upstream_model: str
    usage: Usage
    cost_usd: Decimal
    attempts: int
    latency_ms: float
    streamed: bool = False
    partial: bool = False  # the answer ended early: failed mid-stream, or the client disconnected
    estimated: bool = False  # usage estimated from text: the upstream reported none
    cache_hit: bool = False  # answered from the response cache: costs 0 ...
    saved_usd: Decimal = Decimal(0)  # ... and saves what the cached answer cost when served


class UsageSink(Protocol):
    async def record(self, record: UsageRecord) -> None:
        """Store or forward one record. May raise anything; :class:`Accounting` logs it."""
        ...


class Accounting:
    def __init__(self, sinks: Iterable[UsageSink] = (), *, prices: PriceTable | None = None) -> None:
        self._sinks = list(sinks)
        # The versioned price table, for deployments without a price of their own.
        self.prices = prices

    def add_sink(self, sink: UsageSink) -> None:
        self._sinks.append(sink)

    async def record(
        self,
        candidate: Candidate,
        usage: Usage,
        *,
        request_id: str,
        attempts: int,
        latency_s: float,
        streamed: bool = False,
        partial: bool = False,
        estimated: bool = False,
    ) -> UsageRecord:
        """Price ``usage`` for the deployment that served it and hand the record to every sink."""
        deployment = candidate.deployment
        record = UsageRecord(
            request_id=request_id,
            public_model=candidate.public_model,
            provider=candidate.provider_name,
            deployment_id=candidate.deployment_id,
            upstream_model=deployment.model,
            usage=usage,
            cost_usd=cost_usd(usage, candidate_price(self.prices, candidate)),
            attempts=attempts,
            latency_ms=round(latency_s * 1000, 3),
            streamed=streamed,
            partial=partial,
            estimated=estimated,
        )
        # Debug level: at one line per request the logs would cost more than the metrics that
        # carry the same numbers; errors are logged at info by the exception handler.
        logger.debug(
            "request served",
            extra={
                "request_id": request_id,
                "model": record.public_model,
                "deployment": record.deployment_id,
                "attempts": attempts,
                "cost_usd": format_usd(record.cost_usd),
                "latency_ms": record.latency_ms,
                "streamed": streamed,
                "partial": partial,
            },
        )
        await self._notify(record)
        return record

    async def _notify(self, record: UsageRecord) -> None:
        for sink in self._sinks:
            try:
                await sink.record(record)
            except Exception:
                logger.exception("usage sink failed", extra={"request_id": record.request_id})

    async def record_hit(
        self,
        public_model: str,
        provider: str,
        deployment_id: str,
        upstream_model: str,
        saved_usd: Decimal,
        *,
        request_id: str,
    ) -> UsageRecord:
        """A cache hit: no upstream call, no tokens, no cost; the saving goes to every sink."""
        record = UsageRecord(
            request_id=request_id,
            public_model=public_model,
            provider=provider,
            deployment_id=deployment_id,
            upstream_model=upstream_model,
            usage=Usage(),
            cost_usd=Decimal(0),
            attempts=0,
            latency_ms=0.0,
            cache_hit=True,
            saved_usd=saved_usd,
        )
        await self._notify(record)
        return record

    async def record_completion(
        self, request: ChatRequest, outcome: Outcome[ChatCompletion], *, request_id: str, latency_s: float
    ) -> UsageRecord:
        """:meth:`record` for a buffered answer."""
        usage, estimated = completion_usage(request, outcome.result)
        return await self.record(
            outcome.candidate,
            usage,
            request_id=request_id,
            attempts=outcome.attempts,
            latency_s=latency_s,
            estimated=estimated,
        )


def _tokens(chars: int) -> int:
    return -(-chars // 4)


def estimate_usage(request: ChatRequest, completion_chars: int) -> Usage:
    """Usage guessed from text when the upstream sent none (four characters a token)."""
    prompt_chars = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            prompt_chars += len(content)
        elif content:
            prompt_chars += sum(len(p.text) for p in content if isinstance(p, TextPart))
    prompt, completion = _tokens(prompt_chars), _tokens(completion_chars)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def completion_usage(request: ChatRequest, completion: ChatCompletion) -> tuple[Usage, bool]:
    """A buffered answer's usage, and whether it had to be estimated."""
    if completion.usage is not None:
        return completion.usage, False
    chars = 0
    for choice in completion.choices:
        message = choice.message
        chars += len(message.content or "")
        chars += sum(len(c.function.name) + len(c.function.arguments) for c in message.tool_calls or ())
    return estimate_usage(request, chars), True


class StreamUsage:
    """What a stream has reported so far: the upstream's usage, if any, and the output's length."""

    __slots__ = ("chars", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.chars = 0

    def observe(self, chunk: ChatCompletionChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.choices:
            self.chars += output_chars(chunk)

    def final(self, request: ChatRequest) -> tuple[Usage, bool]:
        """The usage to account, and whether it had to be estimated."""
        if self.usage is not None:
            return self.usage, False
        return estimate_usage(request, self.chars), True
