"""``switchyard provider-keys set|show-status``: the provider key secrets in Secrets Manager.

A secret is named by its provider (``openai``, ``gemini``…: the stack tags each secret
``switchyard:provider``) or by its name or ARN. ``set`` writes one slot (``primary`` or
``backup``) of a provider's secret, reading the key from stdin so it stays out of shell history;
``show-status`` says which slots are filled and how rotation stands, for the secrets named or, by
default, every provider's, and flags a secret whose next rotation would fail for want of a
backup. Neither ever prints a key; every AWS failure is one line that says what to do
(switchyard.cli.aws).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections import defaultdict
from typing import Any

from switchyard.cli.admin_client import CliError, add_json
from switchyard.cli.aws import add_aws_options, aws_errors, client, error_code, region
from switchyard.cli.commands import command
from switchyard.cli.output import console, print_json, table
from switchyard.keys.secrets_rotation import PROVIDER_TAG

STACK_TAG = "aws:cloudformation:stack-name"  # CloudFormation tags what it creates with its stack
SLOTS = ("primary", "backup")


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "provider-keys",
        "provider API keys in Secrets Manager (never printed)",
        [
            "switchyard provider-keys show-status",
            'printf %s "$KEY" | switchyard provider-keys set openai --slot backup',
        ],
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = command(
        actions,
        "set",
        "write the primary or backup key of a provider's secret (the key is read from stdin)",
        [
            'printf %s "$NEW_KEY" | switchyard provider-keys set gemini --slot backup',
            "switchyard provider-keys set <secret-arn> --slot primary --region eu-west-1",
        ],
    )
    put.add_argument("secret_id", help="a provider (openai, gemini...), or the secret's name or ARN")
    put.add_argument("--slot", choices=SLOTS, default="backup")
    put.set_defaults(func=_set)
    status = command(
        actions,
        "show-status",
        "filled slots and rotation of every provider's key secret, or of those named (never the keys)",
        [
            "switchyard provider-keys show-status",
            "switchyard provider-keys show-status openai --json",
        ],
    )
    status.add_argument(
        "secret_id", nargs="*", help="providers or secrets (default: every provider's secret)"
    )
    status.set_defaults(func=_status)
    for sub in (put, status):
        sub.add_argument(
            "--stack", default=None, help="the stack's secrets only (several stacks in one region)"
        )
        add_aws_options(sub)
        add_json(sub)


def provider_secrets(secrets: Any, stack: str | None) -> dict[str, list[str]]:
    """Provider -> the ARNs of the secrets tagged for it (of ``stack`` only, when given)."""
    found: dict[str, list[str]] = defaultdict(list)
    pages = secrets.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [PROVIDER_TAG]}]
    )
    for page in pages:
        for secret in page.get("SecretList", []):
            tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
            if PROVIDER_TAG in tags and (stack is None or tags.get(STACK_TAG) == stack):
                found[tags[PROVIDER_TAG]].append(secret["ARN"])
    return dict(found)


def resolve(secrets: Any, name: str, stack: str | None) -> str:
    """The secret a provider name stands for, else ``name`` itself (a secret name or ARN). Raises
    CliError when several stacks have a secret for that provider."""
    if name.startswith("arn:"):
        return name
    arns = provider_secrets(secrets, stack).get(name, [])
    if len(arns) > 1:
        raise CliError(f"{len(arns)} secrets are tagged for {name}: name the stack with --stack", code=2)
    return arns[0] if arns else name


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("key: ").strip()
    return sys.stdin.readline().strip()


def _set(args: argparse.Namespace) -> int:
    key = _read_key()
    if not key:
        raise CliError("no key given: pipe it on stdin, or type it at the prompt", code=2)
    secrets = client("secretsmanager", args)
    with aws_errors(f"writing secret {args.secret_id}"):
        secret_id = resolve(secrets, args.secret_id, args.stack)
        _describe(secrets, secret_id, args)
        value = _current(secrets, secret_id)
        value[args.slot] = key
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    if args.json:
        print_json({"secret": args.secret_id, "slot": args.slot, "set": True, "characters": len(key)})
    else:
        console().print(f"{args.secret_id}: {args.slot} key set ({len(key)} characters)")
    return 0


def _status(args: argparse.Namespace) -> int:
    secrets = client("secretsmanager", args)
    with aws_errors("reading provider key secrets"):
        if args.secret_id:
            ids = [resolve(secrets, name, args.stack) for name in args.secret_id]
        else:
            ids = [arn for _, arns in sorted(provider_secrets(secrets, args.stack).items()) for arn in arns]
        if not ids:
            where = f"stack {args.stack} in " if args.stack else ""
            raise CliError(
                f"no secret tagged {PROVIDER_TAG} in {where}{secrets.meta.region_name}: is the stack "
                "deployed in that region (--region)? Under `make run`, provider keys come from "
                "OPENAI_API_KEY, ANTHROPIC_API_KEY, … instead"
            )
        rows = [_row(secrets, secret_id, args) for secret_id in ids]
    if args.json:
        print_json({"region": secrets.meta.region_name, "data": rows})
        return 0
    columns = ("PROVIDER", "SECRET", "PRIMARY", "BACKUP", "ROTATION", "LAST ROTATED", "NEXT ROTATION")
    cells = [
        (
            r["provider"] or "-",
            r["name"],
            r["primary"],
            r["backup"],
            r["rotation"],
            r["last_rotated"],
            r["next_rotation"],
        )
        for r in rows
    ]
    out = console()
    out.print(table(f"provider key secrets ({secrets.meta.region_name})", columns, cells))
    for r in rows:
        if r["warning"]:
            out.print(f"! {r['provider'] or r['name']}: {r['warning']}")
    return 0


def _row(secrets: Any, secret_id: str, args: argparse.Namespace) -> dict[str, Any]:
    meta = _describe(secrets, secret_id, args)
    value = _current(secrets, secret_id)
    rules = meta.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days" if rules.get("AutomaticallyAfterDays") else ""
    )
    tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
    provider = tags.get(PROVIDER_TAG)
    return {
        "name": meta["Name"],
        "arn": meta.get("ARN"),
        "provider": provider,
        **{slot: "set" if value.get(slot) else "EMPTY" for slot in SLOTS},
        "rotation": (f"on ({schedule})" if schedule else "on") if meta.get("RotationEnabled") else "off",
        "last_rotated": _when(meta.get("LastRotatedDate")),
        "next_rotation": _when(meta.get("NextRotationDate")),
        "warning": _no_backup(meta, value, provider or secret_id),
    }


def _no_backup(meta: dict[str, Any], value: dict[str, str], name: str) -> str | None:
    """Rotation promotes the backup: a rotating secret with a key and no backup will fail."""
    if not (meta.get("RotationEnabled") and value.get("primary") and not value.get("backup")):
        return None
    due = meta.get("NextRotationDate")
    when = f" in {(due - dt.datetime.now(dt.UTC)).days} days" if isinstance(due, dt.datetime) else ""
    return (
        f"no backup: the next rotation{when} will fail; put one with "
        f"`switchyard provider-keys set {name} --slot backup`"
    )


def _describe(secrets: Any, secret_id: str, args: argparse.Namespace) -> dict[str, Any]:
    """The secret's metadata; raises CliError when there is no such secret."""
    try:
        meta: dict[str, Any] = secrets.describe_secret(SecretId=secret_id)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            where = region(args) or secrets.meta.region_name
            raise CliError(
                f"no secret {secret_id!r} in {where}: `switchyard provider-keys show-status` lists the "
                "provider key secrets (the stack's outputs name them too)"
            ) from exc
        raise
    return meta


def _current(secrets: Any, secret_id: str) -> dict[str, str]:
    """The secret's current JSON value ({} while it has none)."""
    try:
        raw = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":  # a secret without a value yet
            return {}
        raise
    try:
        value = json.loads(raw)
    except ValueError:
        return {"primary": raw.strip()}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _when(moment: Any) -> str:
    """boto3's datetimes as ISO 8601 in UTC."""
    if moment is None:
        return "-"
    if isinstance(moment, dt.datetime):
        return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(moment)
