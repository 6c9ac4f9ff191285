"""``switchyard health``: ask a running gateway whether it is live and ready."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "health", help="liveness and readiness of a gateway"
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    try:
        with httpx.Client(timeout=args.timeout) as client:
            live = client.get(f"{base}/health")
            ready = client.get(f"{base}/health/ready")
    except httpx.HTTPError as exc:
        print(f"unreachable: {base} ({type(exc).__name__})")
        return 2
    print(f"live: {live.status_code}  ready: {ready.status_code}")
    if ready.headers.get("content-type", "").startswith("application/json"):
        print(json.dumps(ready.json(), indent=2))
    return 0 if live.status_code == 200 and ready.status_code == 200 else 1
