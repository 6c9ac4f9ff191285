"""The cost of one answer from its usage and the deployment's price (USD per 1M tokens).

Decimal throughout: aggregates of many small costs must not drift the way floats do.
"""

from __future__ import annotations

import random
from decimal import Decimal

from switchyard.api.chat import Usage
from switchyard.config.prices import PriceTable, resolve_price
from switchyard.config.routing import Price
from switchyard.routing.select import Candidate, RouteTable

_PER_TOKEN = Decimal(1_000_000)
ZERO = Decimal(0)


def cost_usd(usage: Usage | None, price: Price | None, *, requests: int = 1) -> Decimal:
    """What ``usage`` cost at ``price``: its tokens, and the fees of ``requests`` answered
    requests (a web search's per-request fee, at the search context size the usage reports, and
    its search queries)."""
    if usage is None or price is None:
        return ZERO
    cached = usage.cached_tokens
    written = usage.cache_creation_input_tokens or 0
    # prompt_tokens includes cache reads and writes (OpenAI semantics; the Anthropic adapter adds
    # them in), so the plain-input share is what is left.
    plain = max(0, usage.prompt_tokens - cached - written)
    total = (
        plain * price.input
        + cached * (price.cached_input if price.cached_input is not None else price.input)
        + written * (price.cache_write if price.cache_write is not None else price.input)
        + usage.completion_tokens * price.output
        + (usage.citation_tokens or 0) * (price.citation or ZERO)
        + (usage.reasoning_tokens or 0) * (price.reasoning or ZERO)
    )
    fees = requests * price.request_fee(usage.search_context_size)
    return total / _PER_TOKEN + fees + (usage.num_search_queries or 0) * price.search_query


def format_usd(amount: Decimal) -> str:
    """Fixed 10 decimal places: enough for a single cheap token, stable for header parsing."""
    return f"{amount:.10f}"


def candidate_price(prices: PriceTable | None, candidate: Candidate) -> Price | None:
    """What a deployment charges: its own price, else the price table's (None: unpriced)."""
    dep = candidate.deployment
    return resolve_price(prices, candidate.provider_name, dep.model, dep.price)


def route_prices(table: RouteTable, model: str, prices: PriceTable | None) -> list[tuple[Candidate, Price]]:
    """Every priced deployment ``model`` can be served by (fallbacks included). Raises
    NotFoundError for an unknown model."""
    priced = []
    for cand in table.candidates(model, random.Random(0)):  # order does not matter here
        price = candidate_price(prices, cand)
        if price is not None:
            priced.append((cand, price))
    return priced
