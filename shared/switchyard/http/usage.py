"""``GET /v1/usage`` (the calling key's own usage) and ``GET /admin/usage`` (any tenant or key,
grouped), from the daily aggregates. The range defaults to the current month so far (UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from switchyard.api.usage import UsageReport
from switchyard.http.admin_views import saving_out, usage_row_out
from switchyard.http.deps import gateway_of, require_admin_key, require_client_key
from switchyard.state.ports import UsageDelta
from switchyard.usage.report import GroupBy, grouped, read
from switchyard.usage.savings import savings

client_router = APIRouter(dependencies=[Depends(require_client_key)], tags=["usage"])
admin_router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin_key)], tags=["admin"])


def date_range(request: Request, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The range asked, by default the current month so far (UTC)."""
    today = dt.datetime.fromtimestamp(gateway_of(request).auth.wall(), dt.UTC).date()
    return start or today.replace(day=1), end or today


@client_router.get("/v1/usage")
async def own_usage(
    request: Request,
    start: dt.date | None = None,
    end: dt.date | None = None,
    group_by: GroupBy = "model",
) -> UsageReport:
    identity = request.state.identity
    first, last = date_range(request, start, end)
    ledger = gateway_of(request).state.usage
    deltas = await read(ledger, [identity.tenant], first, last, key_id=identity.key_id)
    return _report(request, deltas, first, last, group_by)


@admin_router.get("/usage")
async def any_usage(
    request: Request,
    tenant: Annotated[list[str] | None, Query()] = None,
    key_id: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    group_by: GroupBy = "model",
) -> UsageReport:
    gateway = gateway_of(request)
    first, last = date_range(request, start, end)
    tenants = tenant or ["default", *(t.tenant for t in await gateway.state.keys.list_tenants())]
    deltas = await read(gateway.state.usage, dict.fromkeys(tenants), first, last, key_id=key_id)
    return _report(request, deltas, first, last, group_by)


def _report(
    request: Request, deltas: list[UsageDelta], first: dt.date, last: dt.date, group_by: GroupBy
) -> UsageReport:
    gateway = gateway_of(request)
    rows, total = grouped(deltas, group_by)
    cheaper = savings(deltas, gateway.table, gateway.accounting.prices, gateway.config.budgets.downgrade)
    return UsageReport(
        start=first,
        end=last,
        group_by=group_by,
        data=[usage_row_out(r) for r in rows],
        total=usage_row_out(total),
        savings=[saving_out(s) for s in cheaper],
    )
