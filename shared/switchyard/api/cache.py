"""Wire schemas of ``/admin/cache``: the cache's statistics and purges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CacheRowOut(BaseModel):
    group: str
    lookups: int
    hits: int
    misses: int
    stores: int
    hit_rate: float | None  # hits / lookups; None without lookups
    saved_usd: Decimal


class PurgeMarkOut(BaseModel):
    scope: Literal["all", "tenant", "key", "model"]
    id: str | None
    purged_at: float  # epoch seconds: entries of requests begun before it are stale


class CacheReport(BaseModel):
    object: Literal["cache.stats"] = "cache.stats"
    enabled: bool
    default_ttl_s: int
    start: dt.date
    end: dt.date
    group_by: str
    purges: list[PurgeMarkOut]
    data: list[CacheRowOut]
    total: CacheRowOut


class PurgeIn(BaseModel):
    """Exactly one: every entry, a tenant's, a key's (by id) or a model's (and its aliases')."""

    model_config = ConfigDict(extra="forbid")

    all: bool = False
    tenant: str | None = Field(default=None, min_length=1, max_length=128)
    key_id: str | None = Field(default=None, min_length=1, max_length=128)
    model: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [self.all, self.tenant is not None, self.key_id is not None, self.model is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of all, tenant, key_id, model")
        return self


class PurgeOut(BaseModel):
    object: Literal["cache.purge"] = "cache.purge"
    scopes: list[str]
    purged_at: float
