"""``switchyard cache``: the response cache's statistics (hits, misses, stores, hit rate, savings,
purges in effect) and purges by tenant, key, model or everything."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Group
from rich.text import Text

from switchyard.cli.admin_client import add_connection, call
from switchyard.cli.commands import command
from switchyard.cli.output import console, fields, iso, print_json, table, usd


def register(subparsers: Any) -> None:
    cache = command(
        subparsers,
        "cache",
        "response cache: statistics and purges",
        ["switchyard cache stats --group-by key", "switchyard cache purge --model gpt-4o-mini"],
    )
    sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    stats = command(
        sub,
        "stats",
        "hits, misses, stores and savings, by model, key, tenant or day",
        [
            "switchyard cache stats",
            "switchyard cache stats --tenant acme --group-by day --start 2026-12-01",
            "switchyard cache stats --json",
        ],
    )
    stats.add_argument("--tenant", action="append", help="only these tenants (repeat); default: all")
    stats.add_argument("--key-id", help="only this key's traffic")
    stats.add_argument("--model", help="only this model's traffic")
    stats.add_argument("--start", help="YYYY-MM-DD (default: the first of this month)")
    stats.add_argument("--end", help="YYYY-MM-DD (default: today)")
    stats.add_argument("--group-by", choices=("model", "key", "tenant", "day"), default="model")
    add_connection(stats)
    stats.set_defaults(func=run_stats)
    purge = command(
        sub,
        "purge",
        "make cached answers stale: every one, or a tenant's, key's or model's",
        [
            "switchyard cache purge --model gpt-4o-mini",
            "switchyard cache purge --tenant acme",
            "switchyard cache purge --all",
        ],
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
    report = call(args, "GET", "/admin/cache", params=params)
    if args.json:
        print_json(report)
    else:
        console().print(render(report))
    return 0


def run_purge(args: argparse.Namespace) -> int:
    if args.all:
        body: dict[str, Any] = {"all": True}
    else:
        body = {k: getattr(args, k) for k in ("tenant", "key_id", "model") if getattr(args, k)}
    done = call(args, "POST", "/admin/cache/purge", json=body)
    if args.json:
        print_json(done)
    else:
        console().print(
            fields("purged", [(k, iso(v) if k == "purged_at" else str(v)) for k, v in done.items()])
        )
    return 0


def render(report: dict[str, Any]) -> Group:
    state = "on" if report["enabled"] else "OFF"
    parts: list[Any] = [
        Text(f"cache {state}, default TTL {report['default_ttl_s']} s; {report['start']} .. {report['end']}")
    ]
    for mark in report["purges"]:
        parts.append(
            Text(f"purged: {mark['scope']} {mark['id'] or ''} at {iso(mark['purged_at'])}".replace("  ", " "))
        )
    columns = ("GROUP", "LOOKUPS", "HITS", "MISSES", "STORED", "HIT RATE", "SAVED USD")
    rows = []
    for row in [*report["data"], report["total"]]:
        rate = "-" if row["hit_rate"] is None else f"{row['hit_rate'] * 100:.1f}%"
        counts = tuple(str(row[k]) for k in ("lookups", "hits", "misses", "stores"))
        rows.append((row["group"], *counts, rate, usd(row["saved_usd"])))
    parts.append(table(None, columns, rows, numeric=6))
    return Group(*parts)
