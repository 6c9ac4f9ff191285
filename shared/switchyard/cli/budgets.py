"""``switchyard budgets``: each budget's cap and what its current period has spent, and the global
override a cost alarm may have set."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.text import Text

from switchyard.cli.admin_client import add_connection, call
from switchyard.cli.commands import command
from switchyard.cli.output import console, iso, percent, print_json, table, usd


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "budgets",
        "budgets and what their current period has spent",
        ["switchyard budgets", "switchyard budgets --tenant acme", "switchyard budgets --json"],
    )
    parser.add_argument("--tenant", help="one tenant and its keys (default: the global and every tenant's)")
    add_connection(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = call(args, "GET", "/admin/budgets", params={"tenant": args.tenant} if args.tenant else None)
    if args.json:
        print_json(report)
    else:
        console().print(render(report))
    return 0


def render(report: dict[str, Any]) -> Group:
    parts: list[Any] = []
    override = report.get("override")
    if override:
        until = f" until {iso(override['until'])}" if override.get("until") else ""
        since = iso(override["since"])
        line = f"GLOBAL OVERRIDE: {override['action']} since {since}{until} ({override['reason']})"
        parts.append(Text(line, style="bold red"))
    if not report["data"]:
        parts.append(Text("no budgets configured"))
        return Group(*parts)
    columns = ("SCOPE", "ID", "PERIOD", "CURRENT", "AT 100 %", "", "BUDGET USD", "SPENT USD", "USED %")
    rows = [
        (
            r["scope"],
            r["id"],
            r["period"],
            r["period_key"],
            r["action"],
            _bar(Decimal(r["percent"])),
            usd(r["budget_usd"]),
            usd(r["spent_usd"]),
            percent(r["percent"]),
        )
        for r in report["data"]
    ]
    parts.append(table("budgets", columns, rows, numeric=3))
    return Group(*parts)


def _bar(used: Decimal, width: int = 10) -> str:
    filled = max(0, min(width, int(used * width / 100)))
    return "[" + "#" * filled + "." * (width - filled) + "]"
