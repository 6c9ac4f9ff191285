"""``switchyard provider-keys set|show-status``: the provider key secrets (DESIGN §6).

A secret is named by its provider (``openai``, ``gemini``…: the stack tags each secret
``switchyard:provider``) or by its name or ARN. ``set`` writes one slot (``primary`` or ``backup``)
of a provider's secret, reading the key from stdin so it stays out of shell history;
``show-status`` says which slots are filled and how rotation stands, for the secrets named or, by
default, every provider's. Neither ever prints a key.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from switchyard.config.settings import Settings
from switchyard.keys.secrets_rotation import PROVIDER_TAG

STACK_TAG = "aws:cloudformation:stack-name"  # CloudFormation tags what it creates with its stack


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("provider-keys", help="provider API keys in Secrets Manager")
    actions = parser.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="write the primary or backup key of a provider's secret")
    put.add_argument("secret_id", help="a provider (openai, gemini...), or the secret's name or ARN")
    put.add_argument("--slot", choices=("primary", "backup"), default="backup")
    put.set_defaults(func=_set)
    status = actions.add_parser("show-status", help="filled slots and rotation state (never the keys)")
    status.add_argument(
        "secret_id", nargs="*", help="providers or secrets (default: every provider's secret)"
    )
    status.set_defaults(func=_status)
    for sub in (put, status):
        sub.add_argument(
            "--stack", default=None, help="the stack's secrets only (several stacks in one region)"
        )
        sub.add_argument("--endpoint-url", default=None, help="only for a local emulation")
        sub.add_argument("--region", default=None)


def secrets_client(args: argparse.Namespace) -> Any:
    import boto3

    settings = Settings.from_env()
    region = args.region or settings.aws_region
    return boto3.client("secretsmanager", region_name=region, endpoint_url=args.endpoint_url)


def provider_secrets(client: Any, stack: str | None) -> dict[str, list[str]]:
    """Provider -> the ARNs of the secrets tagged for it (of ``stack`` only, when given)."""
    found: dict[str, list[str]] = defaultdict(list)
    pages = client.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [PROVIDER_TAG]}]
    )
    for page in pages:
        for secret in page["SecretList"]:
            tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
            if PROVIDER_TAG in tags and (stack is None or tags.get(STACK_TAG) == stack):
                found[tags[PROVIDER_TAG]].append(secret["ARN"])
    return dict(found)


class Ambiguous(Exception):
    pass


def resolve(client: Any, name: str, stack: str | None) -> str:
    """The secret a provider name stands for, else ``name`` itself (a secret name or ARN). Raises
    Ambiguous when several stacks have a secret for that provider."""
    if name.startswith("arn:"):
        return name
    arns = provider_secrets(client, stack).get(name, [])
    if len(arns) > 1:
        raise Ambiguous(f"{len(arns)} secrets are tagged for {name}: name the stack with --stack")
    return arns[0] if arns else name


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
    try:
        secret_id = resolve(client, args.secret_id, args.stack)
    except Ambiguous as exc:
        print(exc)
        return 2
    value = _current(client, secret_id)
    value[args.slot] = key
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    print(f"{args.secret_id}: {args.slot} key set ({len(key)} characters)")
    return 0


def _status(args: argparse.Namespace) -> int:
    client = secrets_client(args)
    if args.secret_id:
        try:
            targets = [resolve(client, name, args.stack) for name in args.secret_id]
        except Ambiguous as exc:
            print(exc)
            return 2
    else:
        targets = [arn for _, arns in sorted(provider_secrets(client, args.stack).items()) for arn in arns]
        if not targets:
            print(f"no secret is tagged {PROVIDER_TAG}" + (f" in stack {args.stack}" if args.stack else ""))
            return 1
    for secret_id in targets:
        _print_status(client, secret_id)
    return 0


def _print_status(client: Any, secret_id: str) -> None:
    meta = client.describe_secret(SecretId=secret_id)
    value = _current(client, secret_id)
    tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
    provider = tags.get(PROVIDER_TAG)
    print(f"{provider}: {meta['Name']}" if provider else meta["Name"])
    slots = "  ".join(f"{slot}: {'set' if value.get(slot) else 'EMPTY'}" for slot in ("primary", "backup"))
    print(f"  {slots}")
    rules = meta.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression") or f"{rules.get('AutomaticallyAfterDays')} days"
    print(
        f"  rotation: {'on' if meta.get('RotationEnabled') else 'off'}" + (f" ({schedule})" if rules else "")
    )
    for label, field in (("last rotated", "LastRotatedDate"), ("next rotation", "NextRotationDate")):
        if meta.get(field):
            print(f"  {label}: {meta[field]}")
    due = meta.get("NextRotationDate")
    if meta.get("RotationEnabled") and value.get("primary") and not value.get("backup"):
        when = f" in {(due - datetime.now(UTC)).days} days" if isinstance(due, datetime) else ""
        print(f"  ! no backup: the next rotation{when} will fail; put one with")
        print(f"    switchyard provider-keys set {provider or secret_id} --slot backup")


def _current(client: Any, secret_id: str) -> dict[str, str]:
    raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        value = json.loads(raw)
    except ValueError:
        return {"primary": raw.strip()}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
