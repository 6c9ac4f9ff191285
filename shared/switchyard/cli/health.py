"""``switchyard health``: ask a running gateway whether it is live and ready."""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from switchyard.cli.admin_client import CliError, add_connection, default_url
from switchyard.cli.commands import command
from switchyard.cli.output import console, fields, print_json


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "health",
        "liveness and readiness of a gateway (no key needed)",
        [
            "switchyard health",
            "switchyard health --url https://abc123.execute-api.us-east-1.amazonaws.com/prod",
        ],
    )
    add_connection(parser, key_flag=None)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base = (args.url or default_url()).rstrip("/")
    try:
        with httpx.Client(timeout=args.timeout) as client:
            live = client.get(f"{base}/health")
            ready = client.get(f"{base}/health/ready")
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the gateway at {base} ({type(exc).__name__}): is it running?", 2
        ) from exc
    healthy = live.status_code == 200 and ready.status_code == 200
    detail = _json(ready)
    if args.json:
        print_json({"url": base, "live": live.status_code, "ready": ready.status_code, "detail": detail})
        return 0 if healthy else 1
    rows = [("gateway", base), ("live", _status(live)), ("ready", _status(ready))]
    if isinstance(detail, dict) and "providers" in detail:
        providers = detail["providers"]
        breakers = detail.get("breakers", {})
        rows += [
            ("providers", ", ".join(f"{name} ({kind})" for name, kind in providers.items()) or "-"),
            ("models", str(detail.get("models", "-"))),
            ("breakers open", ", ".join(breakers.get("open", [])) or "none"),
            ("half open", ", ".join(breakers.get("half_open", [])) or "none"),
            ("parked", ", ".join(breakers.get("parked", [])) or "none"),
        ]
        state = detail.get("state", {})
        if state.get("backend"):
            degraded = state.get("degraded") or []
            rows.append(
                ("state", state["backend"] + (f" (degraded: {', '.join(degraded)})" if degraded else ""))
            )
    console().print(fields("health", rows))
    return 0 if healthy else 1


def _status(response: httpx.Response) -> str:
    return "ok" if response.status_code == 200 else f"{response.status_code} {response.reason_phrase}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
