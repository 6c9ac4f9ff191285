"""The operator CLI (``switchyard …``): one module per command group, each registering its
subcommands on the shared parser, so groups are added without touching each other."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules of switchyard.cli that define ``register(subparsers)``; each subcommand sets
# ``func(args) -> int`` as its default.
GROUPS: tuple[str, ...] = ("health", "keys", "jobs", "provider_keys", "usage", "budgets", "personas")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Operate a Switchyard gateway.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in GROUPS:
        importlib.import_module(f"switchyard.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
