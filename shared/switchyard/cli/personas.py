"""``switchyard personas …``: a tenant's personas through the admin API, as tables (``--json``:
the API's JSON, for scripts).

``set`` creates or replaces a persona whole: from ``--file`` (YAML or JSON with the fields of
``PUT /admin/personas/{tenant}/{name}``), with any option given on the command line on top.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml
from rich.text import Text

from switchyard.cli.admin_client import CliError, add_connection, call
from switchyard.cli.commands import command
from switchyard.cli.output import console, fields, iso, print_json, table


def register(subparsers: Any) -> None:
    personas = command(
        subparsers,
        "personas",
        "create, list, show and delete personas (named system prompts of a tenant)",
        [
            "switchyard personas set acme support --system 'You help {{ customer }}.' --var customer=Ann "
            "--model gpt-4o-mini --param temperature=0.2 --guardrail pii --publish",
            "switchyard personas set acme support --file support.yaml",
            "switchyard personas list --tenant acme",
            "switchyard personas show acme support --json",
            "switchyard personas delete acme support",
        ],
    )
    actions = personas.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = command(actions, "list", "a tenant's personas", ["switchyard personas list --tenant acme"])
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(func=_list)
    show = command(actions, "show", "one persona", ["switchyard personas show acme support"])
    show.set_defaults(func=_show)
    put = command(
        actions,
        "set",
        "create or replace a persona (whole): --file's fields, with the options given on top",
        ["switchyard personas set acme support --file support.yaml --model gpt-4o-mini"],
    )
    _set_options(put)
    put.set_defaults(func=_set)
    delete = command(actions, "delete", "delete a persona", ["switchyard personas delete acme support"])
    delete.set_defaults(func=_delete)
    for parser in (show, put, delete):
        parser.add_argument("tenant")
        parser.add_argument("name")
    for parser in (listing, show, put, delete):
        add_connection(parser)


def _set_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, help="YAML or JSON with the persona's fields")
    parser.add_argument("--system", help="the system prompt ({{ name }} marks a variable)")
    parser.add_argument("--system-file", type=Path, help="read the system prompt from a file")
    parser.add_argument("--description")
    parser.add_argument("--model", help="where calls to the model persona/<name> go")
    parser.add_argument("--var", action="append", metavar="NAME=VALUE", help="a variable's default (repeat)")
    parser.add_argument("--param", action="append", metavar="NAME=JSON", help="e.g. temperature=0.2 (repeat)")
    parser.add_argument("--guardrail", action="append", metavar="POLICY", help="a guardrail policy (repeat)")
    parser.add_argument("--publish", action="store_true", default=None, help="callable as persona/<name>")
    parser.add_argument("--replace-system", action="store_true", default=None, help="drop callers' system")
    parser.add_argument("--no-memory", action="store_true", help="ignore conversation ids")
    parser.add_argument("--memory-max-tokens", type=int)
    parser.add_argument("--memory-ttl", type=int, metavar="SECONDS")
    parser.add_argument("--memory-overflow", choices=("drop", "summarize"))
    parser.add_argument("--summary-model")
    parser.add_argument("--stale-if-error", type=int, metavar="SECONDS", help="last resort: stale answers")
    parser.add_argument("--template", help="last resort: the answer when no provider can")


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body: ``--file``'s fields, then the options given. Exits with a message on a
    malformed option or file."""
    body: dict[str, Any] = _read(args.file) if args.file else {}
    if args.system_file:
        body["system_prompt"] = args.system_file.read_text(encoding="utf-8")
    simple = {"system_prompt": args.system, "description": args.description, "model": args.model}
    body.update({k: v for k, v in simple.items() if v is not None})
    if args.var:
        body["variables"] = {**body.get("variables", {}), **dict(_pair(v, "--var") for v in args.var)}
    if args.param:
        params = {name: _json(value, name) for name, value in (_pair(p, "--param") for p in args.param)}
        body["parameters"] = {**body.get("parameters", {}), **params}
    if args.guardrail:
        body["guardrails"] = [*body.get("guardrails", []), *args.guardrail]
    for flag, field in ((args.publish, "published"), (args.replace_system, "replace_system")):
        if flag is not None:
            body[field] = flag
    memory = {
        "max_tokens": args.memory_max_tokens,
        "ttl_s": args.memory_ttl,
        "overflow": args.memory_overflow,
        "summary_model": args.summary_model,
    }
    body["memory"] = {**body.get("memory", {}), **{k: v for k, v in memory.items() if v is not None}}
    if args.no_memory:
        body["memory"]["enabled"] = False
    last = {"stale_if_error_s": args.stale_if_error, "template": args.template}
    body["last_resort"] = {**body.get("last_resort", {}), **{k: v for k, v in last.items() if v is not None}}
    if "system_prompt" not in body:
        raise CliError(
            "personas set: give the prompt (--system, --system-file or system_prompt in --file)", 2
        )
    return body


def _read(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"--file {path}: {exc}", 2) from exc
    if not isinstance(loaded, dict):
        raise CliError(f"--file {path}: expected a mapping of persona fields", 2)
    return loaded


def _pair(item: str, flag: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise CliError(f"{flag} {item!r}: expected NAME=VALUE", 2)
    return name, value


def _json(value: str, name: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value  # a bare word: a string (stop=END)


def _list(args: argparse.Namespace) -> int:
    answer = call(args, "GET", "/admin/personas", params={"tenant": args.tenant})
    if args.json:
        print_json(answer)
        return 0
    rows = [
        (
            p["name"],
            p["model_name"] or "-",
            p["model"] or "-",
            ", ".join(p["guardrails"]) or "-",
            _memory(p["memory"]),
            p["description"],
        )
        for p in answer["data"]
    ]
    columns = ("NAME", "MODEL NAME", "MODEL", "GUARDRAILS", "MEMORY", "ABOUT")
    console().print(table(f"personas of {args.tenant}", columns, rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    return _print_persona(args, call(args, "GET", f"/admin/personas/{args.tenant}/{args.name}"))


def _set(args: argparse.Namespace) -> int:
    return _print_persona(
        args, call(args, "PUT", f"/admin/personas/{args.tenant}/{args.name}", json=body_of(args))
    )


def _delete(args: argparse.Namespace) -> int:
    call(args, "DELETE", f"/admin/personas/{args.tenant}/{args.name}")
    if args.json:
        print_json({"deleted": f"{args.tenant}/{args.name}"})
    else:
        console().print(Text(f"deleted persona {args.name} of {args.tenant}"))
    return 0


def _print_persona(args: argparse.Namespace, persona: dict[str, Any]) -> int:
    if args.json:
        print_json(persona)
        return 0
    last = persona["last_resort"]
    pairs = [
        ("tenant", persona["tenant"]),
        ("name", persona["name"]),
        ("model name", persona["model_name"] or "- (not published)"),
        ("model", persona["model"] or "- (the caller's)"),
        ("about", persona["description"] or "-"),
        ("variables", " ".join(f"{k}={v}" for k, v in persona["variables"].items()) or "-"),
        ("parameters", " ".join(f"{k}={json.dumps(v)}" for k, v in persona["parameters"].items()) or "-"),
        ("guardrails", ", ".join(persona["guardrails"]) or "-"),
        ("memory", _memory(persona["memory"])),
        ("last resort", _last_resort(last)),
        ("callers' system", "dropped" if persona["replace_system"] else "kept after the persona's"),
        ("created", iso(persona["created_at"])),
        ("updated", iso(persona["updated_at"])),
        ("system prompt", persona["system_prompt"]),
    ]
    console().print(fields(f"persona {persona['name']} of {persona['tenant']}", pairs))
    return 0


def _memory(memory: dict[str, Any]) -> str:
    if not memory["enabled"]:
        return "off"
    set_ = {k: v for k, v in memory.items() if k != "enabled" and v is not None}
    return " ".join(f"{k}={v}" for k, v in set_.items()) or "config defaults"


def _last_resort(last: dict[str, Any]) -> str:
    parts = []
    if last["stale_if_error_s"] is not None:
        parts.append(f"stale answers up to {last['stale_if_error_s']} s")
    if last["template"] is not None:
        parts.append(f"template {last['template']!r}")
    return "; ".join(parts) or "the model's rule"
