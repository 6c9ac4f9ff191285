"""The versioned price table (USD per 1M tokens) and how an answer's price is found.

Precedence, most specific first: the deployment's own ``price`` in the routing config, then an
override file (``SWITCHYARD_PRICES``), then the table shipped with the package
(``config/prices.yaml``). Within a table a ``provider/model`` entry wins over a bare ``model``
one, and a dated upstream name (``claude-sonnet-4-5-20250929``, ``gpt-4o-2024-08-06``) falls back
to its undated entry, since providers answer with the dated name of the alias that was asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from switchyard.config.routing import Price

SHIPPED_PRICES = Path(__file__).with_name("prices.yaml")

_DATED = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")
# Bedrock's geographic inference profile ids: the model id behind a region-group prefix.
_PROFILE = re.compile(r"^(?:us|eu|apac|us-gov|jp|au|ca)\.(.+)$")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    updated: dt.date
    models: dict[str, Price] = Field(default_factory=dict)

    def lookup(self, provider: str, model: str) -> Price | None:
        """The entry for ``model`` as served by ``provider`` (None: not in this table)."""
        model = model.rpartition("/")[2] if model.startswith("arn:") else model
        undated = _DATED.sub("", model)
        names = [f"{provider}/{model}", model, f"{provider}/{undated}", undated]
        profile = _PROFILE.match(model)
        if profile is not None:  # a Bedrock cross-region profile: its model's price
            names += [f"{provider}/{profile.group(1)}", profile.group(1)]
        for name in names:
            price = self.models.get(name)
            if price is not None:
                return price
        return None

    def merged(self, override: PriceTable) -> PriceTable:
        """This table with ``override``'s entries on top, carrying the override's version."""
        return PriceTable(
            version=override.version, updated=override.updated, models={**self.models, **override.models}
        )


def read_price_table(path: Path) -> PriceTable:
    """Parse one table. Raises ValueError (with the path) when it is missing or invalid."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PriceTable.model_validate(raw)
    except (OSError, ValueError) as exc:
        raise ValueError(f"invalid price table {path}: {exc}") from exc


def load_prices(override_path: Path | None = None) -> PriceTable:
    """The shipped table, with the override file's entries on top when one is given."""
    table = read_price_table(SHIPPED_PRICES)
    return table if override_path is None else table.merged(read_price_table(override_path))


def resolve_price(table: PriceTable | None, provider: str, model: str, own: Price | None) -> Price | None:
    """The price of one deployment: its own, else the table's (None: unpriced, costs 0)."""
    if own is not None:
        return own
    return table.lookup(provider, model) if table is not None else None
