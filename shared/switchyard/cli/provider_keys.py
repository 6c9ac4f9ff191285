"""``switchyard provider-keys set|show-status``: the provider key secrets (DESIGN §6).

``set`` writes one slot (``primary`` or ``backup``) of a provider's secret, reading the key from
stdin so it stays out of shell history; ``show-status`` says which slots are filled and how
rotation stands. Neither ever prints a key.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from switchyard.config.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("provider-keys", help="provider API keys in Secrets Manager")
    actions = parser.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="write the primary or backup key of a provider's secret")
    put.add_argument("secret_id", help="the secret's name or ARN (stack outputs / template.yaml)")
    put.add_argument("--slot", choices=("primary", "backup"), default="backup")
    put.set_defaults(func=_set)
    status = actions.add_parser("show-status", help="filled slots and rotation state (never the keys)")
    status.add_argument("secret_id", nargs="+")
    status.set_defaults(func=_status)
    for sub in (put, status):
        sub.add_argument("--endpoint-url", default=None, help="only for a local emulation")
        sub.add_argument("--region", default=None)


def secrets_client(args: argparse.Namespace) -> Any:
    import boto3

    settings = Settings.from_env()
    region = args.region or settings.aws_region
    return boto3.client("secretsmanager", region_name=region, endpoint_url=args.endpoint_url)


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("key: ").strip()
    return sys.stdin.readline().strip()


def _set(args: argparse.Namespace) -> int:
    key = _read_key()
    if not key:
        print("no key given (pipe it on stdin, or type it at the prompt)")
        return 1
    client = secrets_client(args)
    value = _current(client, args.secret_id)
    value[args.slot] = key
    client.put_secret_value(SecretId=args.secret_id, SecretString=json.dumps(value))
    print(f"{args.secret_id}: {args.slot} key set ({len(key)} characters)")
    return 0


def _status(args: argparse.Namespace) -> int:
    client = secrets_client(args)
    for secret_id in args.secret_id:
        meta = client.describe_secret(SecretId=secret_id)
        value = _current(client, secret_id)
        slots = "  ".join(
            f"{slot}: {'set' if value.get(slot) else 'EMPTY'}" for slot in ("primary", "backup")
        )
        print(f"{meta['Name']}")
        print(f"  {slots}")
        rules = meta.get("RotationRules") or {}
        schedule = rules.get("ScheduleExpression") or f"{rules.get('AutomaticallyAfterDays')} days"
        print(
            f"  rotation: {'on' if meta.get('RotationEnabled') else 'off'}"
            + (f" ({schedule})" if rules else "")
        )
        for label, field in (("last rotated", "LastRotatedDate"), ("next rotation", "NextRotationDate")):
            if meta.get(field):
                print(f"  {label}: {meta[field]}")
    return 0


def _current(client: Any, secret_id: str) -> dict[str, str]:
    raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        value = json.loads(raw)
    except ValueError:
        return {"primary": raw.strip()}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
