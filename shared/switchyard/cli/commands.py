"""Building the CLI's parsers: every command's ``--help`` ends with examples to copy."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def command(subparsers: Any, name: str, summary: str, examples: Sequence[str]) -> argparse.ArgumentParser:
    """A (sub)command whose help shows ``examples``, one per line, as typed in a shell."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=summary[:1].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
