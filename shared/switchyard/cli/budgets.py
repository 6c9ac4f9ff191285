"""``switchyard budgets``: each budget's cap and what its current period has spent, and the global
override a cost alarm may have set."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from switchyard.cli.admin_client import add_connection, call


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("budgets", help="budgets and their spend")
    parser.add_argument("--tenant", help="one tenant and its keys (default: the global and every tenant's)")
    add_connection(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = call(args, "GET", "/admin/budgets", params={"tenant": args.tenant} if args.tenant else None)
    print(render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    lines = []
    override = report.get("override")
    if override:
        lines.append(f"GLOBAL OVERRIDE: {override['action']} (alarm {override['reason']})\n")
    if not report["data"]:
        lines.append("no budgets configured")
        return "\n".join(lines)
    lines.append(_row("SCOPE", "ID", "PERIOD", "CURRENT", "BUDGET USD", "SPENT USD", "USED", "AT 100 %"))
    for r in report["data"]:
        bar = _bar(Decimal(r["percent"]))
        budget, spent, used = (Decimal(r[k]) for k in ("budget_usd", "spent_usd", "percent"))
        lines.append(
            _row(
                r["scope"],
                r["id"][:28],
                r["period"],
                r["period_key"],
                f"{budget:.2f}",
                f"{spent:.4f}",
                f"{used:.1f}%",
                f"{r['action']} {bar}",
            )
        )
    return "\n".join(lines)


def _row(*cells: str) -> str:
    scope, ident, period, current, budget, spent, used, action = cells
    return f"{scope:7} {ident:28} {period:8} {current:11} {budget:>12} {spent:>12} {used:>7}  {action}"


def _bar(percent: Decimal, width: int = 10) -> str:
    filled = min(width, int(percent * width / 100))
    return "[" + "#" * filled + "." * (width - filled) + "]"
