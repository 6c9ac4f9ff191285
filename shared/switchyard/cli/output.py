"""What the CLI prints: rich tables and summaries for people, ``--json`` for scripts.

Times are ISO 8601 in UTC in both (the API's epoch seconds never reach the screen), and money
keeps every digit that is not zero: a $0.00001 cap prints as 0.00001, not 0.00.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Fields of the API's answers that hold epoch seconds.
TIME_FIELDS = frozenset({"created_at", "updated_at", "expires_at", "since", "until"})
# Money past this many decimal places is rounded (a token at $0.01 per 1M costs 1e-8 USD).
_USD_PLACES = 12
# Wide enough that a piped table keeps ids and keys whole.
_PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout/stderr (tests swap them), wide when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _PIPE_WIDTH
    # No markup: names and messages from the gateway are printed as they are, brackets included.
    return Console(file=stream, width=width, highlight=False, markup=False)


def warn(message: str) -> None:
    """A warning on stderr (stdout stays clean for ``--json``)."""
    console(stderr=True).print(Text(message, style="yellow"))


def iso(epoch: float | None) -> str:
    """``2027-01-02T03:04:05Z`` (to the second, UTC), or ``-`` for no time."""
    if epoch is None:
        return "-"
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def usd(value: Decimal | str | float | None, *, significant: int | None = None) -> str:
    """Dollars with at least two decimals and every further digit that is not zero (to 1e-12),
    or, for an estimate, cents or ``significant`` digits, whichever shows more."""
    if value is None:
        return "-"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if significant is not None and amount:
        places = max(2, significant - 1 - amount.adjusted())
        amount = amount.quantize(Decimal(1).scaleb(-places))
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_USD_PLACES:
        rounded = amount.quantize(Decimal(1).scaleb(-_USD_PLACES))
        if not rounded and amount:
            return f"<{Decimal(1).scaleb(-_USD_PLACES):f}"  # never a 0.00 for something spent
        amount = rounded
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def percent(value: Decimal | str | float) -> str:
    return f"{Decimal(str(value)):.1f} %"


def with_iso_times(value: Any) -> Any:
    """The API's JSON with every epoch-seconds field (``created_at``, …) as ISO 8601."""
    if isinstance(value, Mapping):
        return {
            k: (iso(v) if v is not None else None)
            if k in TIME_FIELDS and isinstance(v, int | float)
            else with_iso_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [with_iso_times(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """For scripts: the answer as JSON on stdout, times as ISO 8601, nothing else on stdout."""
    sys.stdout.write(json.dumps(with_iso_times(value), indent=2, sort_keys=True) + "\n")


def table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: int = 0
) -> Table:
    """A table whose first column (an id) never wraps; the last ``numeric`` columns (counts,
    money) are right-aligned."""
    grid = Table(title=title, title_justify="left", header_style="bold")
    for index, name in enumerate(columns):
        right = index >= len(columns) - numeric
        grid.add_column(name, no_wrap=index == 0, justify="right" if right else "left")
    for row in rows:
        grid.add_row(*(Text(cell) for cell in row))  # as they are: a "[#...]" is not markup
    return grid


def fields(title: str | None, pairs: Iterable[tuple[str, str]]) -> Table:
    """A two-column field/value table for one object."""
    grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(Text(name), Text(value))
    return grid


def mapping(values: Mapping[str, Any], *, money: bool = False) -> str:
    """``rpm=60 tpm=20000`` (or ``daily=$5.00``); ``-`` when empty."""
    if not values:
        return "-"
    return " ".join(f"{k}=${usd(v)}" if money else f"{k}={v}" for k, v in values.items())
