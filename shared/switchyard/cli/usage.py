"""``switchyard usage``: spend and traffic from the admin usage API, as a readable table, with the
top models and keys, a month-end projection and a few recommendations."""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.text import Text

from switchyard.cli.admin_client import add_connection, call
from switchyard.cli.commands import command
from switchyard.cli.output import console, print_json, table, usd


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "usage",
        "usage and spend, by model, key, provider, day or tenant",
        [
            "switchyard usage",
            "switchyard usage --group-by key --tenant acme --start 2027-01-01 --end 2027-01-31",
            "switchyard usage --json",
        ],
    )
    parser.add_argument("--tenant", action="append", help="only these tenants (repeat); default: all")
    parser.add_argument("--start", type=_date, help="YYYY-MM-DD (default: the first of this month)")
    parser.add_argument("--end", type=_date, help="YYYY-MM-DD (default: today)")
    parser.add_argument("--group-by", choices=("model", "key", "provider", "day", "tenant"), default="model")
    add_connection(parser)
    parser.set_defaults(func=run)


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def run(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    if args.tenant:
        params["tenant"] = args.tenant
    report = call(args, "GET", "/admin/usage", params={**params, "group_by": args.group_by})
    if args.json:
        print_json(report)
        return 0
    models = call(args, "GET", "/admin/usage", params={**params, "group_by": "model"})["data"]
    keys = call(args, "GET", "/admin/usage", params={**params, "group_by": "key"})["data"]
    out = console()
    title = f"usage {report['start']} .. {report['end']} by {args.group_by}"
    out.print(usage_table(title, report["data"], report["total"]))
    out.print(f"top models: {top(models)}")
    out.print(f"top keys:   {top(keys)}")
    if not args.start and not args.end:
        so_far = Decimal(report["total"]["cost_usd"])
        estimate = projection(so_far, dt.datetime.now(dt.UTC).date())
        out.print(f"month-end projection: ${usd(estimate, significant=3)}")
    for line in recommendations(models, report["total"], report.get("savings", [])):
        out.print(Text(f"* {line}", style="cyan"))
    return 0


def usage_table(title: str, rows: list[dict[str, Any]], total: dict[str, Any]) -> Any:
    columns = (
        "GROUP",
        "REQUESTS",
        "TOKENS IN",
        "TOKENS OUT",
        "ERRORS",
        "CACHE HITS",
        "COST USD",
        "SAVED USD",
    )
    lines = []
    for row in [*rows, total]:
        counts = (row[k] for k in ("requests", "prompt_tokens", "completion_tokens", "errors", "cache_hits"))
        lines.append((row["group"], *(f"{c:,}" for c in counts), usd(row["cost_usd"]), usd(row["saved_usd"])))
    grid = table(title, columns, lines, numeric=7)
    if rows:
        grid.rows[len(rows) - 1].end_section = True  # a rule above the total
    return grid


def top(rows: list[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{r['group']} (${usd(r['cost_usd'])})" for r in rows[:n]) or "-"


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
            f" ${usd(s['alternative_cost_usd'])} instead of ${usd(s['spend_usd'])}"
            f" (saves ${usd(s['saving_usd'])}, {share:.0f}% of spend)"
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
        out.append(f"the response cache saved ${usd(saved)}")
    return out
