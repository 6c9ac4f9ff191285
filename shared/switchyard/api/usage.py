"""Wire schemas of ``GET /v1/usage`` and ``GET /admin/usage``. Money is a decimal string."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel

from switchyard.usage.report import UsageRow
from switchyard.usage.savings import Saving


class UsageRowOut(BaseModel):
    group: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    errors: int
    cache_hits: int
    fallbacks: int
    cost_usd: Decimal
    saved_usd: Decimal

    @classmethod
    def of(cls, row: UsageRow) -> UsageRowOut:
        return cls(
            group=row.group,
            requests=row.requests,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cached_tokens=row.cached_tokens,
            errors=row.errors,
            cache_hits=row.cache_hits,
            fallbacks=row.fallbacks,
            cost_usd=row.cost_usd,
            saved_usd=row.saved_usd,
        )


class SavingOut(BaseModel):
    """A model's traffic priced on the cheapest deployment of its route."""

    model: str
    spend_usd: Decimal
    alternative: str
    alternative_cost_usd: Decimal
    saving_usd: Decimal
    share_of_spend: Decimal

    @classmethod
    def of(cls, s: Saving) -> SavingOut:
        return cls(
            model=s.model,
            spend_usd=s.spend_usd,
            alternative=s.alternative,
            alternative_cost_usd=s.alternative_cost_usd.quantize(Decimal("0.000001")),
            saving_usd=s.saving_usd.quantize(Decimal("0.000001")),
            share_of_spend=s.share.quantize(Decimal("0.0001")),
        )


class UsageReport(BaseModel):
    start: dt.date
    end: dt.date
    group_by: str
    data: list[UsageRowOut]
    total: UsageRowOut
    savings: list[SavingOut] = []
