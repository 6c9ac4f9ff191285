"""Cost recommendations: each model's real tokens priced on the cheapest deployment of its route."""

from __future__ import annotations

from decimal import Decimal

from switchyard.config.routing import RoutingConfig
from switchyard.routing.select import RouteTable
from switchyard.state.ports import UsageDelta
from switchyard.usage.savings import savings

D = Decimal


def table() -> RouteTable:
    def dep(provider: str, model: str, i: str, o: str) -> dict[str, object]:
        return {"provider": provider, "model": model, "price": {"input": i, "output": o}}

    return RouteTable(
        RoutingConfig.model_validate(
            {
                "providers": {"p": {"kind": "mock"}, "q": {"kind": "mock"}},
                "models": {
                    # $10/$30 per 1M first, a $2/$6 deployment of the same route second.
                    "big": {"deployments": [dep("p", "big-1", "10", "30"), dep("q", "big-2", "2", "6")]},
                    "solo": {"deployments": [dep("p", "solo", "1", "1")]},
                    "mini": {"deployments": [dep("p", "mini", "0.1", "0.4")]},
                },
            }
        )
    )


def used(model: str, cost: str, prompt: int, completion: int) -> UsageDelta:
    day = "2026-11-23"
    return UsageDelta(
        "t", "k", model, day, prompt_tokens=prompt, completion_tokens=completion, cost_usd=D(cost)
    )


def test_the_cheapest_deployment_of_the_route_prices_the_same_tokens() -> None:
    # 1M in + 1M out on big-1 cost $40; the same on big-2 costs $8.
    found = savings(
        [used("big", "40", 1_000_000, 1_000_000), used("solo", "10", 5_000_000, 5_000_000)], table(), None, {}
    )
    assert len(found) == 1  # solo's route has nothing cheaper
    s = found[0]
    assert (s.model, s.alternative) == ("big", "q/big-2")
    assert (s.spend_usd, s.alternative_cost_usd, s.saving_usd) == (D(40), D(8), D(32))
    assert s.share == D(32) / D(50)


def test_a_budget_downgrade_model_counts_as_part_of_the_route() -> None:
    found = savings([used("solo", "2", 1_000_000, 1_000_000)], table(), None, {"solo": "mini"})
    assert [(s.alternative, s.alternative_cost_usd) for s in found] == [("p/mini", D("0.5"))]


def test_traffic_already_on_the_cheapest_deployment_or_unknown_models_give_nothing() -> None:
    assert savings([used("big", "8", 1_000_000, 1_000_000)], table(), None, {}) == []
    assert savings([used("gone", "8", 1_000_000, 1_000_000)], table(), None, {}) == []
