"""``switchyard provider-keys set|show-status``: the provider key secrets in Secrets Manager.

``set`` writes one slot (``primary`` or ``backup``) of a provider's secret, reading the key from
stdin so it stays out of shell history; ``show-status`` says which slots are filled and how
rotation stands, for the secrets named or, by default, every secret the stack tagged
``switchyard:provider``. Neither ever prints a key; every AWS failure is one line that says what to
do (switchyard.cli.aws).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from typing import Any

from switchyard.cli.admin_client import CliError, add_json
from switchyard.cli.aws import add_aws_options, aws_errors, client, error_code, region
from switchyard.cli.commands import command
from switchyard.cli.output import console, print_json, table

PROVIDER_TAG = "switchyard:provider"  # as template.yaml tags each provider's secret
SLOTS = ("primary", "backup")


def register(subparsers: Any) -> None:
    parser = command(
        subparsers,
        "provider-keys",
        "provider API keys in Secrets Manager (never printed)",
        [
            "switchyard provider-keys show-status",
            'printf %s "$KEY" | switchyard provider-keys set <secret> --slot backup',
        ],
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = command(
        actions,
        "set",
        "write the primary or backup key of a provider's secret (the key is read from stdin)",
        [
            'printf %s "$NEW_KEY" | switchyard provider-keys set switchyard/openai --slot backup',
            "switchyard provider-keys set <secret-arn> --slot primary --region eu-west-1",
        ],
    )
    put.add_argument("secret_id", help="the secret's name or ARN (show-status lists them)")
    put.add_argument("--slot", choices=SLOTS, default="backup")
    put.set_defaults(func=_set)
    status = command(
        actions,
        "show-status",
        "filled slots and rotation of every provider key secret, or of those named (never the keys)",
        [
            "switchyard provider-keys show-status",
            "switchyard provider-keys show-status switchyard/openai --json",
        ],
    )
    status.add_argument(
        "secret_id", nargs="*", help=f"names or ARNs (default: every secret tagged {PROVIDER_TAG})"
    )
    status.set_defaults(func=_status)
    for sub in (put, status):
        add_aws_options(sub)
        add_json(sub)


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
        _describe(secrets, args.secret_id, args)
        value = _current(secrets, args.secret_id)
        value[args.slot] = key
        secrets.put_secret_value(SecretId=args.secret_id, SecretString=json.dumps(value))
    if args.json:
        print_json({"secret": args.secret_id, "slot": args.slot, "set": True, "characters": len(key)})
    else:
        console().print(f"{args.secret_id}: {args.slot} key set ({len(key)} characters)")
    return 0


def _status(args: argparse.Namespace) -> int:
    secrets = client("secretsmanager", args)
    with aws_errors("reading provider key secrets"):
        ids = args.secret_id or _tagged(secrets)
        if not ids:
            raise CliError(
                f"no secret tagged {PROVIDER_TAG} in {secrets.meta.region_name}: is the stack deployed "
                "in that region (--region)? Under `make run`, provider keys come from OPENAI_API_KEY, "
                "ANTHROPIC_API_KEY, … instead"
            )
        rows = [_row(secrets, secret_id, args) for secret_id in ids]
    if args.json:
        print_json({"region": secrets.meta.region_name, "data": rows})
        return 0
    columns = ("SECRET", "PROVIDER", "PRIMARY", "BACKUP", "ROTATION", "LAST ROTATED", "NEXT ROTATION")
    cells = [
        (
            r["name"],
            r["provider"] or "-",
            r["primary"],
            r["backup"],
            r["rotation"],
            r["last_rotated"],
            r["next_rotation"],
        )
        for r in rows
    ]
    console().print(table(f"provider key secrets ({secrets.meta.region_name})", columns, cells))
    return 0


def _tagged(secrets: Any) -> list[str]:
    names: list[str] = []
    for page in secrets.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [PROVIDER_TAG]}]
    ):
        names.extend(s["ARN"] for s in page.get("SecretList", []))
    return names


def _row(secrets: Any, secret_id: str, args: argparse.Namespace) -> dict[str, Any]:
    meta = _describe(secrets, secret_id, args)
    value = _current(secrets, secret_id)
    rules = meta.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days" if rules.get("AutomaticallyAfterDays") else ""
    )
    tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
    return {
        "name": meta["Name"],
        "arn": meta.get("ARN"),
        "provider": tags.get(PROVIDER_TAG),
        **{slot: "set" if value.get(slot) else "EMPTY" for slot in SLOTS},
        "rotation": (f"on ({schedule})" if schedule else "on") if meta.get("RotationEnabled") else "off",
        "last_rotated": _when(meta.get("LastRotatedDate")),
        "next_rotation": _when(meta.get("NextRotationDate")),
    }


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
