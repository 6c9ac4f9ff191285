"""``switchyard keys …`` and ``switchyard tenants …``: virtual keys and tenants through the admin API.

The plaintext of a key is printed once, by ``create`` and ``rotate``; nothing else can show it.
``update`` and ``tenants set`` change only what they are given: limits and budgets merge one by one
(``--tpm 20000`` keeps the key's ``rpm``), and the ``--clear-…`` options remove entries.
A key's request-signing secret is printed once likewise, by ``signing-secret`` (docs/signing.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text

from switchyard.cli.admin_client import CliError, add_connection, call
from switchyard.cli.commands import command
from switchyard.cli.output import console, fields, iso, mapping, print_json, table, warn
from switchyard.cli.spec import (
    LIMIT_OPTIONS,
    add_budget_options,
    add_safety_options,
    add_spec_options,
    budgets_body,
    key_body,
    safety_body,
)

_SHOWN_ONCE = "Save this key now: it is shown only this once (the gateway keeps only its hash)."
_SECRET_SHOWN_ONCE = "Save this secret now: it is shown only this once (the gateway keeps only a salt)."  # noqa: S105 (a message, not a secret)


def register(subparsers: Any) -> None:
    keys = command(
        subparsers,
        "keys",
        "create, list, show, update, rotate and revoke client keys",
        [
            "switchyard keys create --tenant acme --model gpt-4o-mini --rpm 60",
            "switchyard keys list --tenant acme",
        ],
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _sub(
        actions,
        "create",
        "a new key (its plaintext is shown once)",
        ["--tenant acme --rpm 60 --budget daily=5"],
    )
    create.add_argument("--tenant", required=True, help="the key's tenant (created if new)")
    add_spec_options(create)
    create.set_defaults(func=_create)
    listing = _sub(actions, "list", "a tenant's keys", ["--tenant acme", "--tenant acme --json"])
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(func=_list)
    _sub(actions, "show", "one key", ["k_57b493135abd78a22836d8dc"]).set_defaults(func=_show)
    update = _sub(
        actions,
        "update",
        "change a key's settings (what is not given stays; limits and budgets merge one by one)",
        [
            "k_57b493135abd78a22836d8dc --tpm 20000",
            "k_57b493135abd78a22836d8dc --clear-limit rpm --budget monthly=50",
        ],
    )
    add_spec_options(update, update=True)
    update.set_defaults(func=_update)
    rotate = _sub(
        actions,
        "rotate",
        "a new key; the old one works for the grace period",
        ["k_57b493135abd78a22836d8dc --grace 3600"],
    )
    rotate.add_argument("--grace", type=float, default=None, help="seconds the old key keeps working")
    rotate.set_defaults(func=_rotate)
    _sub(
        actions,
        "revoke",
        "revoke a key (other containers: within the key cache TTL, at most 60 s)",
        ["k_57b493135abd78a22836d8dc"],
    ).set_defaults(func=_revoke)
    secret = _sub(
        actions,
        "signing-secret",
        "a new request-signing secret (shown once), or --remove",
        [
            "k_57b493135abd78a22836d8dc",
            "k_57b493135abd78a22836d8dc --grace 3600",
            "k_57b493135abd78a22836d8dc --remove",
        ],
    )
    secret.add_argument(
        "--grace", type=float, default=None, help="seconds the key's old secrets keep working"
    )
    secret.add_argument(
        "--optional", action="store_true", help="set the secret without requiring signatures yet"
    )
    secret.add_argument("--remove", action="store_true", help="drop every secret and the requirement")
    secret.set_defaults(func=_signing_secret)
    _register_tenants(subparsers)


def _sub(actions: Any, name: str, summary: str, examples: list[str]) -> argparse.ArgumentParser:
    parser = command(actions, name, summary, [f"switchyard keys {name} {e}" for e in examples])
    if name not in ("create", "list"):
        parser.add_argument("key_id", help="the key's id (k_…), as keys list shows it")
    add_connection(parser)
    return parser


def _register_tenants(subparsers: Any) -> None:
    tenants = command(
        subparsers,
        "tenants",
        "list, show and set tenants",
        ["switchyard tenants list", "switchyard tenants set acme --budget monthly=500"],
    )
    actions = tenants.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = command(
        actions, "list", "every tenant", ["switchyard tenants list", "switchyard tenants list --json"]
    )
    listing.set_defaults(func=_list_tenants)
    one = command(actions, "show", "one tenant", ["switchyard tenants show acme"])
    one.add_argument("tenant")
    one.set_defaults(func=lambda a: _print_tenant(a, call(a, "GET", f"/admin/tenants/{a.tenant}")))
    put = command(
        actions,
        "set",
        "create a tenant, or change what is given (budgets merge period by period)",
        [
            "switchyard tenants set acme --name 'Acme Inc.' --budget monthly=500 --budget-action downgrade",
            "switchyard tenants set acme --clear-budget daily",
        ],
    )
    put.add_argument("tenant")
    put.add_argument("--name", default=None)
    add_budget_options(put, update=True)
    add_safety_options(put)
    put.set_defaults(func=_put_tenant)
    for parser in (listing, one, put):
        add_connection(parser)


def _create(args: argparse.Namespace) -> int:
    return _issued(args, call(args, "POST", "/admin/keys", json=key_body(args)))


def _update(args: argparse.Namespace) -> int:
    body = key_body(args)
    if not body:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in LIMIT_OPTIONS)
        raise CliError(
            f"nothing to update: give --name, --model, {options}, --budget, … (see --help)", code=2
        )
    return _print_key(args, call(args, "PATCH", f"/admin/keys/{args.key_id}", json=body), "updated")


def _rotate(args: argparse.Namespace) -> int:
    body = {} if args.grace is None else {"grace_s": args.grace}
    return _issued(
        args, call(args, "POST", f"/admin/keys/{args.key_id}/rotate", json=body), rotated=args.key_id
    )


def _issued(args: argparse.Namespace, key: dict[str, Any], *, rotated: str | None = None) -> int:
    """A key just issued: its plaintext once, with the warning that it will not be shown again."""
    if args.json:
        print_json(key)
        warn(_SHOWN_ONCE)
        return 0
    out = console()
    if rotated:
        out.print(f"rotated {rotated}: it keeps working for the grace period, then expires")
    # On a line of its own, unboxed: a copy takes the key and nothing else.
    out.print(Text("new key:", style="bold"))
    out.print(key["key"], soft_wrap=True)
    out.print(Text(_SHOWN_ONCE, style="bold yellow"))
    return _print_key(args, key, None)


def _print_key(args: argparse.Namespace, key: dict[str, Any], verb: str | None) -> int:
    if args.json:
        print_json(key)
        return 0
    title = f"{verb} {key['key_id']}" if verb else key["key_id"]
    console().print(fields(title, key_fields(key)))
    return 0


def key_fields(key: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("key id", key["key_id"]),
        ("tenant", key["tenant"]),
        ("name", key["name"] or "-"),
        ("status", key["status"]),
        ("models", ", ".join(key["models"]) or "all"),
        ("limits", mapping(key["limits"])),
        ("budgets", mapping(key["budgets"], money=True)),
        ("at 100 %", key["budget_action"]),
        ("metadata", mapping(key["metadata"])),
        ("guardrails", ", ".join(key["guardrails"]) or "-"),
        ("signed requests", _signing_state(key)),
        ("created", iso(key["created_at"])),
        ("expires", iso(key["expires_at"]) if key["expires_at"] is not None else "never"),
    ]
    if key.get("replaced_by"):
        rows.append(("replaced by", key["replaced_by"]))
    return rows


def _list(args: argparse.Namespace) -> int:
    answer = call(args, "GET", "/admin/keys", params={"tenant": args.tenant})
    if args.json:
        print_json(answer)
        return 0
    columns = ("KEY ID", "NAME", "STATUS", "MODELS", "LIMITS", "BUDGETS", "CREATED", "EXPIRES")
    rows = [
        (
            k["key_id"],
            k["name"] or "-",
            k["status"],
            ", ".join(k["models"]) or "all",
            mapping(k["limits"]),
            mapping(k["budgets"], money=True),
            iso(k["created_at"]),
            iso(k["expires_at"]) if k["expires_at"] is not None else "never",
        )
        for k in answer["data"]
    ]
    out = console()
    out.print(
        table(f"keys of tenant {args.tenant}", columns, rows) if rows else f"tenant {args.tenant} has no keys"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    return _print_key(args, call(args, "GET", f"/admin/keys/{args.key_id}"), None)


def _revoke(args: argparse.Namespace) -> int:
    call(args, "POST", f"/admin/keys/{args.key_id}/revoke")
    if args.json:
        print_json({"key_id": args.key_id, "status": "revoked"})
    else:
        console().print(f"revoked {args.key_id} (other warm containers stop accepting it within 60 s)")
    return 0


def _signing_state(key: dict[str, Any]) -> str:
    secrets = key.get("signing_secrets") or []
    state = "required" if key.get("require_signature") else "optional"
    return f"{state} ({len(secrets)} secret{'s' if len(secrets) != 1 else ''})" if secrets else state


def _signing_secret(args: argparse.Namespace) -> int:
    path = f"/admin/keys/{args.key_id}/signing-secret"
    if args.remove:
        call(args, "DELETE", path)
        if args.json:
            print_json({"key_id": args.key_id, "signing_secrets": []})
        else:
            console().print(f"{args.key_id}: signing secrets removed; its requests need no signature")
        return 0
    body: dict[str, Any] = {"require": not args.optional}
    if args.grace is not None:
        body["grace_s"] = args.grace
    answer = call(args, "POST", path, json=body)
    if args.json:
        print_json(answer)
        warn(_SECRET_SHOWN_ONCE)
        return 0
    out = console()
    # On a line of its own, unboxed: a copy takes the secret and nothing else.
    out.print(Text("new signing secret:", style="bold"))
    out.print(answer["secret"], soft_wrap=True)
    out.print(Text(_SECRET_SHOWN_ONCE, style="bold yellow"))
    required = "required" if answer["require_signature"] else "optional"
    out.print(f"{answer['key_id']}: signed requests {required}; sign with the {answer['header']} header")
    return 0


def _put_tenant(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {**budgets_body(args), **safety_body(args)}
    if args.name is not None:
        body["name"] = args.name
    return _print_tenant(args, call(args, "PUT", f"/admin/tenants/{args.tenant}", json=body))


def _print_tenant(args: argparse.Namespace, tenant: dict[str, Any]) -> int:
    if args.json:
        print_json(tenant)
        return 0
    rows = [
        ("tenant", tenant["tenant"]),
        ("name", tenant["name"] or "-"),
        ("budgets", mapping(tenant["budgets"], money=True)),
        ("at 100 %", tenant["budget_action"]),
        ("metadata", mapping(tenant["metadata"])),
        ("guardrails", ", ".join(tenant["guardrails"]) or "-"),
        ("signed requests", "required" if tenant["require_signature"] else "optional"),
        ("created", iso(tenant["created_at"])),
    ]
    console().print(fields(tenant["tenant"], rows))
    return 0


def _list_tenants(args: argparse.Namespace) -> int:
    answer = call(args, "GET", "/admin/tenants")
    if args.json:
        print_json(answer)
        return 0
    rows = [
        (
            t["tenant"],
            t["name"] or "-",
            mapping(t["budgets"], money=True),
            t["budget_action"],
            iso(t["created_at"]),
        )
        for t in answer["data"]
    ]
    columns = ("TENANT", "NAME", "BUDGETS", "AT 100 %", "CREATED")
    console().print(table("tenants", columns, rows) if rows else "no tenants yet")
    return 0
