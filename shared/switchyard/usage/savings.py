"""Cost recommendations from usage: what each model's traffic would have cost on the cheapest
deployment of its own route (its deployments and fallbacks, or its budget downgrade model).

The alternative is priced on the same tokens the traffic really used, so the saving is what the
same work would have cost, not a guess from list prices alone. Quality is the operator's call: the
recommendation names the cheaper deployment and the share of spend it could take, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from switchyard.accounting import cost_usd, route_prices
from switchyard.api.chat import Usage
from switchyard.config.prices import PriceTable
from switchyard.config.routing import Price
from switchyard.errors import NotFoundError
from switchyard.routing.select import Candidate, RouteTable
from switchyard.state.ports import UsageDelta

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Saving:
    model: str  # the public model the traffic asked for
    spend_usd: Decimal
    alternative: str  # "<provider>/<upstream model>" of the cheaper deployment
    alternative_cost_usd: Decimal  # the same tokens at its price
    saving_usd: Decimal
    share: Decimal  # saving / total spend of the report, 0..1


def savings(
    deltas: Iterable[UsageDelta],
    table: RouteTable,
    prices: PriceTable | None,
    downgrade: Mapping[str, str],
    *,
    minimum_share: Decimal = Decimal("0.01"),
) -> list[Saving]:
    """One saving per public model whose traffic a cheaper deployment of its route could have
    served for at least ``minimum_share`` of its spend less, largest first."""
    by_model: dict[str, tuple[Decimal, int, int, int, int]] = {}
    total = ZERO
    for d in deltas:
        spend, prompt, completion, cached, answered = by_model.get(d.model, (ZERO, 0, 0, 0, 0))
        by_model[d.model] = (
            spend + d.cost_usd,
            prompt + d.prompt_tokens,
            completion + d.completion_tokens,
            cached + d.cached_tokens,
            answered + max(0, d.requests - d.errors - d.cache_hits),
        )
        total += d.cost_usd
    found: list[Saving] = []
    for model, (spend, prompt, completion, cached, answered) in by_model.items():
        if spend <= 0:
            continue
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        if cached:
            usage = usage.model_copy(update={"prompt_tokens_details": {"cached_tokens": cached}})
        best: tuple[Decimal, str] | None = None
        for cand, price in _route(table, model, downgrade, prices):
            # Per-request fees (a web search's) count once for every request that was answered.
            cost = cost_usd(usage, price, requests=answered)
            if best is None or cost < best[0]:
                best = (cost, f"{cand.provider_name}/{cand.deployment.model}")
        if best is None or spend - best[0] <= spend * minimum_share:
            continue
        saving = spend - best[0]
        found.append(Saving(model, spend, best[1], best[0], saving, saving / total if total else ZERO))
    return sorted(found, key=lambda s: s.saving_usd, reverse=True)


def _route(
    table: RouteTable, model: str, downgrade: Mapping[str, str], prices: PriceTable | None
) -> list[tuple[Candidate, Price]]:
    out: list[tuple[Candidate, Price]] = []
    for name in (model, downgrade.get(model)):
        if name is None:
            continue
        try:
            out.extend(route_prices(table, name, prices))
        except NotFoundError:
            continue  # a model no longer in the config
    return out
