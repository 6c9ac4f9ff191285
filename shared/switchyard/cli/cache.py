"""``switchyard cache``: the response cache's statistics (hits, misses, stores, hit rate, savings,
purges in effect) and purges by tenant, key, model or everything."""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal
from typing import Any

from switchyard.cli.admin_client import add_connection, call, show


def register(subparsers: Any) -> None:
    cache = subparsers.add_parser("cache", help="response cache: statistics and purges")
    sub = cache.add_subparsers(dest="cache_command", required=True)
    stats = sub.add_parser("stats", help="hits, misses, stores and savings, by model, key, tenant or day")
    stats.add_argument("--tenant", action="append", help="only these tenants (repeat); default: all")
    stats.add_argument("--key-id", help="only this key's traffic")
    stats.add_argument("--model", help="only this model's traffic")
    stats.add_argument("--start", help="YYYY-MM-DD (default: the first of this month)")
    stats.add_argument("--end", help="YYYY-MM-DD (default: today)")
    stats.add_argument("--group-by", choices=("model", "key", "tenant", "day"), default="model")
    add_connection(stats)
    stats.set_defaults(func=run_stats)
    purge = sub.add_parser(
        "purge", help="make cached answers stale: every one, or a tenant's, key's or model's"
    )
    scope = purge.add_mutually_exclusive_group(required=True)
    scope.add_argument("--all", action="store_true", help="every cached answer")
    scope.add_argument("--tenant")
    scope.add_argument("--key-id")
    scope.add_argument("--model", help="a public model name (its aliases too)")
    add_connection(purge)
    purge.set_defaults(func=run_purge)


def run_stats(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"group_by": args.group_by}
    for name in ("tenant", "key_id", "model", "start", "end"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    print(render(call(args, "GET", "/admin/cache", params=params)))
    return 0


def run_purge(args: argparse.Namespace) -> int:
    if args.all:
        body: dict[str, Any] = {"all": True}
    else:
        body = {k: getattr(args, k) for k in ("tenant", "key_id", "model") if getattr(args, k)}
    show(call(args, "POST", "/admin/cache/purge", json=body))
    return 0


def render(report: dict[str, Any]) -> str:
    state = "on" if report["enabled"] else "OFF"
    lines = [f"cache {state}, default TTL {report['default_ttl_s']} s; {report['start']} .. {report['end']}"]
    for mark in report["purges"]:
        when = dt.datetime.fromtimestamp(mark["purged_at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"purged: {mark['scope']} {mark['id'] or ''} at {when} UTC".replace("  ", " "))
    lines.append("")
    lines.append(_line(("GROUP", "LOOKUPS", "HITS", "MISSES", "STORED", "HIT RATE", "SAVED USD")))
    for row in [*report["data"], report["total"]]:
        rate = "-" if row["hit_rate"] is None else f"{row['hit_rate'] * 100:.1f}%"
        counts = (str(row[k]) for k in ("lookups", "hits", "misses", "stores"))
        lines.append(_line((row["group"][:32], *counts, rate, f"{Decimal(row['saved_usd']):.4f}")))
    return "\n".join(lines)


def _line(cells: tuple[str, ...]) -> str:
    return f"{cells[0]:32}" + "".join(f" {c:>10}" for c in cells[1:])
