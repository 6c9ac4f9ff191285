"""``switchyard usage``: spend and traffic from the admin usage API, as a readable table, with the
top models and keys, a month-end projection and a few recommendations."""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from switchyard.cli.admin_client import add_connection, call


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("usage", help="usage and spend, by model, key, …")
    parser.add_argument("--tenant", action="append", help="only these tenants (repeat); default: all")
    parser.add_argument("--start", help="YYYY-MM-DD (default: the first of this month)")
    parser.add_argument("--end", help="YYYY-MM-DD (default: today)")
    parser.add_argument("--group-by", choices=("model", "key", "provider", "day", "tenant"), default="model")
    add_connection(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    if args.tenant:
        params["tenant"] = args.tenant
    report = call(args, "GET", "/admin/usage", params={**params, "group_by": args.group_by})
    print(f"usage {report['start']} .. {report['end']} by {args.group_by}\n")
    print(table(report["data"], report["total"]))
    models = call(args, "GET", "/admin/usage", params={**params, "group_by": "model"})["data"]
    keys = call(args, "GET", "/admin/usage", params={**params, "group_by": "key"})["data"]
    print("\ntop models: " + top(models))
    print("top keys:   " + top(keys))
    if not args.start and not args.end:
        so_far = Decimal(report["total"]["cost_usd"])
        print(f"\nmonth-end projection: ${projection(so_far, dt.datetime.now(dt.UTC).date()):.2f}")
    for line in recommendations(models, report["total"], report.get("savings", [])):
        print(f"* {line}")
    return 0


def table(rows: list[dict[str, Any]], total: dict[str, Any]) -> str:
    head = ("GROUP", "REQUESTS", "TOKENS IN", "TOKENS OUT", "ERRORS", "HITS", "COST USD")
    lines = [_line(head)]
    for row in [*rows, total]:
        counts = (row[k] for k in ("requests", "prompt_tokens", "completion_tokens", "errors", "cache_hits"))
        lines.append(_line((row["group"][:32], *map(str, counts), f"{Decimal(row['cost_usd']):.4f}")))
    return "\n".join(lines)


def _line(cells: tuple[str, ...]) -> str:
    return f"{cells[0]:32}" + "".join(f" {c:>11}" for c in cells[1:])


def top(rows: list[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{r['group']} (${Decimal(r['cost_usd']):.2f})" for r in rows[:n]) or "-"


def projection(month_to_date: Decimal, today: dt.date) -> Decimal:
    """Spend so far this month, extended at the same daily rate to the month's end."""
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    return month_to_date * days_in_month / today.day


def recommendations(
    models: list[dict[str, Any]],
    total: dict[str, Any],
    savings: Sequence[dict[str, Any]] = (),
) -> list[str]:
    out: list[str] = []
    for s in savings[:3]:
        share = Decimal(s["share_of_spend"]) * 100
        out.append(
            f"{s['model']}: the same tokens on {s['alternative']} would have cost"
            f" ${Decimal(s['alternative_cost_usd']):.2f} instead of ${Decimal(s['spend_usd']):.2f}"
            f" (saves ${Decimal(s['saving_usd']):.2f}, {share:.0f}% of spend)"
        )
    spend = Decimal(total["cost_usd"])
    if models and spend > 0 and not savings:
        biggest = models[0]
        share = Decimal(biggest["cost_usd"]) / spend * 100
        if share >= 50:
            out.append(
                f"{biggest['group']} takes {share:.0f}% of spend, and its route has no cheaper deployment"
            )
    if total["requests"] and total["errors"] / total["requests"] > 0.05:
        out.append(
            f"{total['errors']} of {total['requests']} requests got no answer: check fallbacks and limits"
        )
    saved = Decimal(total["saved_usd"])
    if saved > 0:
        out.append(f"the response cache saved ${saved:.2f}")
    return out
