"""The admin API over HTTP for the CLI: base URL and admin key options, one call, errors printed."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from switchyard.config.settings import Settings


def add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    parser.add_argument(
        "--admin-key",
        default=None,
        help="the master key (default: SWITCHYARD_MASTER_KEY from the environment)",
    )
    parser.add_argument("--timeout", type=float, default=10.0)


def call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON answer (None for 204); raises SystemExit(1) with the error printed."""
    key = args.admin_key
    if key is None:
        master = Settings.from_env().master_key
        key = master.get_secret_value() if master is not None else ""
    with httpx.Client(base_url=args.url.rstrip("/"), timeout=args.timeout) as client:
        try:
            response = client.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        except httpx.HTTPError as exc:
            print(f"unreachable: {args.url} ({type(exc).__name__})")
            raise SystemExit(2) from exc
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        print(f"error {response.status_code}: {message}")
        raise SystemExit(1)
    return None if response.status_code == 204 else response.json()


def show(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))
