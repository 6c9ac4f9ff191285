"""The operator CLI (``switchyard …``): one module per command group, each registering its
subcommands on the shared parser, so groups are added without touching each other.

Every command prints a table or a summary (``--json``: JSON for scripts), and every failure one
line on stderr with a non-zero exit: 1 when the gateway refused, 2 when it could not be asked.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from switchyard.cli.admin_client import CliError

# Modules of switchyard.cli that define ``register(subparsers)``; each subcommand sets
# ``func(args) -> int`` as its default.
GROUPS: tuple[str, ...] = ("health", "keys", "jobs", "provider_keys", "usage", "budgets", "cache", "personas")

_EXAMPLES = """\
examples:
  switchyard health
  switchyard keys create --tenant acme --model gpt-4o-mini --rpm 60 --budget daily=5
  switchyard usage --group-by model
  switchyard budgets --tenant acme --json

With nothing set, commands talk to the gateway `make run` starts (http://127.0.0.1:8080, or
SWITCHYARD_PORT; SWITCHYARD_URL for another) with the master key it keeps in
.switchyard/master-key (or SWITCHYARD_MASTER_KEY, or --admin-key).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard",
        description="Operate a Switchyard gateway.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(f"switchyard.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CliError as exc:
        from rich.text import Text

        from switchyard.cli.output import console

        console(stderr=True).print(Text.assemble(("error: ", "bold red"), exc.message))
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
