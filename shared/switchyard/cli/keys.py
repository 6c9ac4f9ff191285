"""``switchyard keys …`` and ``switchyard tenants …``: virtual keys and tenants through the admin API.

The plaintext of a key is printed once, by ``create`` and ``rotate``; nothing else can show it.
A key's request-signing secret likewise, by ``signing-secret`` (docs/signing.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from switchyard.cli.admin_client import add_connection, call, show


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="create, list, show, update, rotate and revoke client keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = _sub(actions, "create", "a new key (its plaintext is shown once)")
    create.add_argument("--tenant", required=True)
    _spec_options(create)
    create.set_defaults(func=lambda a: _print(call(a, "POST", "/admin/keys", json=_spec(a))))
    listing = _sub(actions, "list", "a tenant's keys")
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(func=_list)
    _sub(actions, "show", "one key").set_defaults(func=_show)
    _sub(actions, "revoke", "revoke a key (other containers: within the cache TTL)").set_defaults(
        func=_revoke
    )
    update = _sub(actions, "update", "change a key's settings")
    _spec_options(update)
    update.set_defaults(func=lambda a: _print(call(a, "PATCH", f"/admin/keys/{a.key_id}", json=_spec(a))))
    rotate = _sub(actions, "rotate", "a new key; the old one works for the grace period")
    rotate.add_argument("--grace", type=float, default=None, help="seconds the old key keeps working")
    rotate.set_defaults(func=_rotate)
    secret = _sub(actions, "signing-secret", "a new request-signing secret (shown once), or --remove")
    secret.add_argument(
        "--grace", type=float, default=None, help="seconds the key's old secrets keep working"
    )
    secret.add_argument(
        "--optional", action="store_true", help="set the secret without requiring signatures yet"
    )
    secret.add_argument("--remove", action="store_true", help="drop every secret and the requirement")
    secret.set_defaults(func=_signing_secret)
    _register_tenants(subparsers)


def _sub(actions: Any, name: str, helptext: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=helptext)
    if name not in ("create", "list"):
        parser.add_argument("key_id")
    add_connection(parser)
    return parser


def _register_tenants(subparsers: Any) -> None:
    tenants = subparsers.add_parser("tenants", help="list, show and set tenants")
    actions = tenants.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list")
    listing.set_defaults(func=lambda a: _print(call(a, "GET", "/admin/tenants")))
    one = actions.add_parser("show")
    one.add_argument("tenant")
    one.set_defaults(func=lambda a: _print(call(a, "GET", f"/admin/tenants/{a.tenant}")))
    put = actions.add_parser("set", help="create or update a tenant")
    put.add_argument("tenant")
    put.add_argument("--name", default="")
    _budget_options(put)
    _safety_options(put)
    put.set_defaults(func=_put_tenant)
    for parser in (listing, one, put):
        add_connection(parser)


def _spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--model", action="append", dest="models", help="an allowed model (repeat)")
    parser.add_argument("--rpm", type=int)
    parser.add_argument("--tpm", type=int)
    parser.add_argument("--max-concurrent", type=int)
    _budget_options(parser)
    parser.add_argument("--metadata", help='JSON object, e.g. \'{"team": "search"}\'')
    parser.add_argument("--expires-at", type=float, help="epoch seconds")
    _safety_options(parser)


def _safety_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--guardrail",
        action="append",
        dest="guardrails",
        metavar="POLICY",
        help="a guardrail policy of the routing config (repeat; replaces the list)",
    )
    parser.add_argument(
        "--require-signature",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse unsigned POSTs (a key needs a signing secret first)",
    )


def _budget_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget",
        action="append",
        metavar="PERIOD=USD",
        help="a spend cap, e.g. daily=5 or monthly=100 (repeat; replaces the key's budgets)",
    )
    parser.add_argument("--budget-action", choices=("block", "downgrade"), help="what happens at 100 %%")


def _budgets(args: argparse.Namespace) -> dict[str, Any]:
    """The budget fields of a request body; exits with a message on a malformed --budget."""
    body: dict[str, Any] = {}
    if args.budget:
        budgets: dict[str, str] = {}
        for item in args.budget:
            period, sep, usd = item.partition("=")
            if not sep or period not in ("daily", "weekly", "monthly"):
                raise SystemExit(f"--budget {item!r}: expected daily|weekly|monthly=USD")
            budgets[period] = usd
        body["budgets"] = budgets
    if args.budget_action:
        body["budget_action"] = args.budget_action
    return body


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    limits = {n: getattr(args, n) for n in ("rpm", "tpm", "max_concurrent") if getattr(args, n) is not None}
    spec: dict[str, Any] = {
        "tenant": getattr(args, "tenant", None),
        "name": args.name,
        "models": args.models,
        "limits": limits or None,
        **_budgets(args),
        "metadata": json.loads(args.metadata) if args.metadata else None,
        "expires_at": args.expires_at,
        **_safety(args),
    }
    return {k: v for k, v in spec.items() if v is not None}


def _safety(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.guardrails is not None:
        body["guardrails"] = args.guardrails
    if args.require_signature is not None:
        body["require_signature"] = args.require_signature
    return body


def _print(value: Any) -> int:
    show(value)
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = call(args, "GET", "/admin/keys", params={"tenant": args.tenant})["data"]
    print(f"{'KEY ID':28} {'STATUS':8} {'NAME':20} MODELS")
    for k in keys:
        print(f"{k['key_id']:28} {k['status']:8} {k['name'][:20]:20} {','.join(k['models']) or '*'}")
    return 0


def _show(args: argparse.Namespace) -> int:
    return _print(call(args, "GET", f"/admin/keys/{args.key_id}"))


def _revoke(args: argparse.Namespace) -> int:
    call(args, "POST", f"/admin/keys/{args.key_id}/revoke")
    print(f"revoked {args.key_id}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    body = {} if args.grace is None else {"grace_s": args.grace}
    return _print(call(args, "POST", f"/admin/keys/{args.key_id}/rotate", json=body))


def _signing_secret(args: argparse.Namespace) -> int:
    path = f"/admin/keys/{args.key_id}/signing-secret"
    if args.remove:
        call(args, "DELETE", path)
        print(f"{args.key_id}: signing secrets removed; its requests need no signature")
        return 0
    body: dict[str, Any] = {"require": not args.optional}
    if args.grace is not None:
        body["grace_s"] = args.grace
    return _print(call(args, "POST", path, json=body))


def _put_tenant(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, **_budgets(args), **_safety(args)}
    return _print(call(args, "PUT", f"/admin/tenants/{args.tenant}", json=body))
