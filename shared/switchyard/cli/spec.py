"""The options that describe a key or a tenant, and the admin API body they make.

On update the body is a merge patch (``switchyard.keys.patch``): only what is given is sent, a
limit or budget given merges into the others, and ``--clear-…`` sends ``null`` to remove one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from switchyard.cli.admin_client import CliError

# The key limits (switchyard.keys.virtual.LIMIT_NAMES), as options: --rpm, --max-concurrent, …
LIMIT_OPTIONS = ("rpm", "tpm", "rph", "tph", "rpd", "tpd", "max_concurrent")
PERIODS = ("daily", "weekly", "monthly")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_spec_options(parser: argparse.ArgumentParser, *, update: bool = False) -> None:
    parser.add_argument("--name", help="a label for people")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="MODEL",
        help="an allowed model (repeat)" + ("; replaces the key's list" if update else "; default: all"),
    )
    for name in LIMIT_OPTIONS:
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=_positive, metavar="N", help=f"the key's {name}"
        )
    add_budget_options(parser, update=update)
    add_safety_options(parser)
    parser.add_argument(
        "--metadata", help='a JSON object, e.g. \'{"team": "search"}\'' + (" (merged)" if update else "")
    )
    parser.add_argument(
        "--expires-at",
        type=expiry,
        metavar="WHEN",
        help="ISO 8601 (2027-01-31 or 2027-01-31T18:00:00Z), or a time from now: 30d, 12h, 90m",
    )
    if update:
        parser.add_argument(
            "--clear-limit", action="append", choices=LIMIT_OPTIONS, help="remove a limit (repeat)"
        )
        parser.add_argument(
            "--clear-metadata", action="append", metavar="NAME", help="remove a metadata entry"
        )
        parser.add_argument("--all-models", action="store_true", help="allow every model again")
        parser.add_argument("--no-expiry", action="store_true", help="the key never expires")


def add_safety_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--guardrail",
        action="append",
        dest="guardrails",
        metavar="POLICY",
        help="a guardrail policy of the routing config (repeat; replaces the list)",
    )
    parser.add_argument(
        "--no-guardrails", action="store_true", help="remove every guardrail policy of its own"
    )
    parser.add_argument(
        "--require-signature",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse unsigned POSTs (a key needs a signing secret first: keys signing-secret)",
    )


def safety_body(args: argparse.Namespace) -> dict[str, Any]:
    """The guardrail and signing fields of a body, as given."""
    body: dict[str, Any] = {}
    if args.guardrails:
        body["guardrails"] = args.guardrails
    elif args.no_guardrails:
        body["guardrails"] = []
    if args.require_signature is not None:
        body["require_signature"] = args.require_signature
    return body


def add_budget_options(parser: argparse.ArgumentParser, *, update: bool = False) -> None:
    parser.add_argument(
        "--budget",
        action="append",
        metavar="PERIOD=USD",
        help="a spend cap, e.g. daily=5 or monthly=100 (repeat)" + ("; other periods stay" if update else ""),
    )
    parser.add_argument("--budget-action", choices=("block", "downgrade"), help="what happens at 100 %%")
    if update:
        parser.add_argument(
            "--clear-budget", action="append", choices=PERIODS, help="remove a budget (repeat)"
        )


def key_body(args: argparse.Namespace) -> dict[str, Any]:
    """The create or update body from the options given (nothing else is sent)."""
    body: dict[str, Any] = {}
    if getattr(args, "tenant", None):
        body["tenant"] = args.tenant
    if args.name is not None:
        body["name"] = args.name
    if args.models:
        body["models"] = args.models
    elif getattr(args, "all_models", False):
        body["models"] = None
    limits: dict[str, int | None] = {
        n: getattr(args, n) for n in LIMIT_OPTIONS if getattr(args, n) is not None
    }
    limits.update(dict.fromkeys(getattr(args, "clear_limit", None) or ()))
    if limits:
        body["limits"] = limits
    body.update(budgets_body(args))
    metadata: dict[str, Any] = json_object(args.metadata, "--metadata") if args.metadata else {}
    metadata.update(dict.fromkeys(getattr(args, "clear_metadata", None) or ()))
    if metadata:
        body["metadata"] = metadata
    if args.expires_at is not None:
        body["expires_at"] = args.expires_at
    elif getattr(args, "no_expiry", False):
        body["expires_at"] = None
    body.update(safety_body(args))
    return body


def budgets_body(args: argparse.Namespace) -> dict[str, Any]:
    """The budget fields of a body; raises CliError for a malformed --budget."""
    budgets: dict[str, str | None] = {}
    for item in args.budget or ():
        period, sep, amount = item.partition("=")
        if not sep or period not in PERIODS:
            raise CliError(f"--budget {item!r}: expected daily|weekly|monthly=USD, e.g. daily=5", code=2)
        try:
            usd = Decimal(amount)
        except InvalidOperation:
            usd = Decimal(-1)
        if not usd.is_finite() or usd < 0:
            raise CliError(f"--budget {item!r}: {amount!r} is not an amount of USD", code=2)
        budgets[period] = str(usd)
    budgets.update(dict.fromkeys(getattr(args, "clear_budget", None) or ()))
    body: dict[str, Any] = {"budgets": budgets} if budgets else {}
    if args.budget_action:
        body["budget_action"] = args.budget_action
    return body


def json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{option}: not JSON ({exc})", code=2) from exc
    if not isinstance(value, dict):
        raise CliError(f"{option}: expected a JSON object", code=2)
    return value


def expiry(text: str, *, now: dt.datetime | None = None) -> float:
    """Epoch seconds (what the API takes) from ISO 8601 or a duration from now."""
    now = now or dt.datetime.now(dt.UTC)
    duration = _DURATION.match(text.strip())
    if duration:
        return (now + dt.timedelta(seconds=float(duration[1]) * _SECONDS[duration[2]])).timestamp()
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither ISO 8601 (2027-01-31T18:00:00Z) nor a duration (30d, 12h)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # a date or a time without an offset: UTC
    return moment.timestamp()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value
