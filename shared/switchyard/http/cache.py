"""``/admin/cache``: the response cache's statistics (from the usage aggregates, across every
container) and purge markers, and purges (master key only). The number of entries is not
reported: DynamoDB can only count a table by reading it all (or, hours late, through its
description, a table-level call the router's item-level policy does not allow)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from switchyard.api.cache import CacheReport, CacheRowOut, PurgeIn, PurgeMarkOut, PurgeOut
from switchyard.cache.purge import ALL
from switchyard.cache.stats import CacheRow, GroupBy, cache_rows
from switchyard.http.deps import gateway_of, require_admin_key
from switchyard.http.usage import date_range
from switchyard.usage.report import read

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin_key)], tags=["admin"])


@router.get("/cache")
async def cache_stats(
    request: Request,
    tenant: Annotated[list[str] | None, Query()] = None,
    key_id: str | None = None,
    model: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    group_by: GroupBy = "model",
) -> CacheReport:
    gateway = gateway_of(request)
    first, last = date_range(request, start, end)
    tenants = tenant or ["default", *(t.tenant for t in await gateway.state.keys.list_tenants())]
    deltas = await read(gateway.state.usage, dict.fromkeys(tenants), first, last, key_id=key_id)
    rows, total = cache_rows(deltas, group_by, model=model)
    marks = await gateway.cache.purges.marks()
    return CacheReport(
        enabled=gateway.cache.enabled,
        default_ttl_s=gateway.cache.default_ttl_s,
        start=first,
        end=last,
        group_by=group_by,
        purges=[_mark(name, at) for name, at in sorted(marks.items(), key=lambda m: -m[1])],
        data=[_row(r) for r in rows],
        total=_row(total),
    )


@router.post("/cache/purge")
async def purge_cache(body: PurgeIn, request: Request) -> PurgeOut:
    """Every entry of the scope becomes stale at once in this container, and in every other
    within ``SWITCHYARD_CACHE_PURGE_REFRESH_S``. A model's purge covers its aliases."""
    gateway = gateway_of(request)
    if body.model is not None:
        aliases = sorted(a for a, target in gateway.config.aliases.items() if target == body.model)
        scopes = [f"model#{name}" for name in (body.model, *aliases)]
    elif body.tenant is not None:
        scopes = [f"tenant#{body.tenant}"]
    elif body.key_id is not None:
        scopes = [f"key#{body.key_id}"]
    else:
        scopes = [ALL]
    purged_at = await gateway.cache.purge(scopes)
    return PurgeOut(scopes=scopes, purged_at=purged_at)


def _row(row: CacheRow) -> CacheRowOut:
    return CacheRowOut(
        group=row.group,
        lookups=row.lookups,
        hits=row.hits,
        misses=row.misses,
        stores=row.stores,
        hit_rate=row.hit_rate,
        saved_usd=row.saved_usd,
    )


def _mark(name: str, at: float) -> PurgeMarkOut:
    kind, _, ident = name.partition("#")
    scope = kind if kind in ("tenant", "key", "model") else "all"
    return PurgeMarkOut.model_validate({"scope": scope, "id": ident or None, "purged_at": at})
