"""Wire schemas of ``GET /v1/usage`` and ``GET /admin/usage``. Money is a decimal string. The
mapping from the usage reports is in :mod:`switchyard.http.admin_views`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel


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


class SavingOut(BaseModel):
    """A model's traffic priced on the cheapest deployment of its route."""

    model: str
    spend_usd: Decimal
    alternative: str
    alternative_cost_usd: Decimal
    saving_usd: Decimal
    share_of_spend: Decimal


class UsageReport(BaseModel):
    start: dt.date
    end: dt.date
    group_by: str
    data: list[UsageRowOut]
    total: UsageRowOut
    savings: list[SavingOut] = []
