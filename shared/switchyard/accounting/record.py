"""One answer's usage and cost, priced once.

Both kinds of answer end in :meth:`Accounting.record`: a buffered answer once it is complete, a
stream when it ends for any reason (finished, failed mid-way, or the client went away; then
``partial``). A cache hit is :meth:`Accounting.record_hit`: no tokens, no cost, and what it saved.
The record is handed on by the request pipeline (limits, budgets and usage settle against it);
this module only prices and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from switchyard.accounting.cost import ZERO, candidate_price, cost_usd, format_usd
from switchyard.api.chat import Usage
from switchyard.config.prices import PriceTable
from switchyard.observability import logger
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
    saved_usd: Decimal = ZERO  # ... and saves what the cached answer cost when served

    @property
    def tokens(self) -> int:
        usage = self.usage
        return usage.total_tokens or usage.prompt_tokens + usage.completion_tokens


class Accounting:
    def __init__(self, prices: PriceTable | None = None) -> None:
        # The versioned price table, for deployments without a price of their own.
        self.prices = prices

    def record(
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
        """Price ``usage`` for the deployment that served it."""
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
        return record

    @staticmethod
    def record_hit(
        public_model: str,
        provider: str,
        deployment_id: str,
        upstream_model: str,
        saved_usd: Decimal,
        *,
        request_id: str,
    ) -> UsageRecord:
        """A cache hit: no upstream call, no tokens, no cost, and what it saved."""
        return UsageRecord(
            request_id=request_id,
            public_model=public_model,
            provider=provider,
            deployment_id=deployment_id,
            upstream_model=upstream_model,
            usage=Usage(),
            cost_usd=ZERO,
            attempts=0,
            latency_ms=0.0,
            cache_hit=True,
            saved_usd=saved_usd,
        )
