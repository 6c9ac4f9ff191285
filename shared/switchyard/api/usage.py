"""Wire schemas of ``GET /v1/usage`` and ``GET /admin/usage``. Money is a decimal string."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel

from switchyard.usage.report import UsageRow


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


class UsageReport(BaseModel):
    start: dt.date
    end: dt.date
    group_by: str
    data: list[UsageRowOut]
    total: UsageRowOut
