"""Web search answers: citations as OpenAI annotations, and the fees a search costs beyond its
tokens in every cost figure (an answer's cost, a budget's reservation, savings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from statekit import Clock
from switchyard.accounting import cost_usd
from switchyard.api.chat import ChatRequest, Usage
from switchyard.budgets.service import Budgets
from switchyard.config.prices import load_prices
from switchyard.config.routing import Price, RoutingConfig
from switchyard.events import MemoryPublisher
from switchyard.providers.citations import requested_context_size, url_citations, with_annotations
from switchyard.routing.select import RouteTable
from switchyard.state.memory import MemoryKeyStore
from switchyard.state.memory_budgets import MemoryBudgetStore
from switchyard.state.ports import UsageDelta
from switchyard.usage.savings import savings

D = Decimal
SONAR = Price(input=D(1), output=D(1), search={"low": "0.005", "medium": "0.008", "high": "0.012"})  # type: ignore[arg-type]


def test_each_marker_naming_a_citation_becomes_an_annotation_spanning_it() -> None:
    text = "Stars[1][3]. Gaia[2]. Nothing[9]. Not a marker [x]."
    citations = ["https://a.example", "https://b.example", "https://c.example"]
    results = [{"url": "https://b.example", "title": "B page"}]
    found = url_citations(text, citations, results)
    assert [
        (a["url_citation"]["url"], text[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]])
        for a in found
    ] == [
        ("https://a.example", "[1]"),
        ("https://c.example", "[3]"),
        ("https://b.example", "[2]"),
    ]
    assert found[2]["url_citation"]["title"] == "B page"
    assert found[0]["url_citation"]["title"] == "https://a.example"  # no result: the URL titles it


def test_annotations_are_added_only_where_there_are_citations() -> None:
    data: dict[str, Any] = {
        "choices": [{"message": {"content": "Hi[1]"}}],
        "citations": ["https://a.example"],
    }
    assert with_annotations(data)
    assert data["choices"][0]["message"]["annotations"][0]["type"] == "url_citation"
    assert not with_annotations({"choices": [{"message": {"content": "Hi[1]"}}]})
    assert not with_annotations(
        {"choices": [{"message": {"content": None}}], "citations": ["https://a.example"]}
    )


@pytest.mark.parametrize(
    ("extra", "size"),
    [
        ({}, "low"),
        ({"web_search_options": {"search_context_size": "high"}}, "high"),
        ({"web_search_options": "x"}, "low"),
    ],
)
def test_the_requested_context_size(extra: dict[str, Any], size: str) -> None:
    request = ChatRequest.model_validate(
        {"model": "sonar", "messages": [{"role": "user", "content": "q"}], **extra}
    )
    assert requested_context_size(request) == size


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(prompt_tokens=1000, completion_tokens=1000, search_context_size="high"), D("0.014")),
        (Usage(prompt_tokens=1000, completion_tokens=1000, search_context_size="medium"), D("0.010")),
        (Usage(prompt_tokens=1000, completion_tokens=1000), D("0.007")),  # unknown size: low
        (Usage(prompt_tokens=1000, completion_tokens=1000, search_context_size="huge"), D("0.007")),
    ],
)
def test_the_search_fee_follows_the_context_size_used(usage: Usage, expected: Decimal) -> None:
    assert cost_usd(usage, SONAR) == expected


def test_deep_research_fees_add_up() -> None:
    price = Price(
        input=D(2), output=D(8), citation=D(2), reasoning=D(3), search_query=D("0.005"), request=D("0.001")
    )
    usage = Usage(
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        citation_tokens=1_000_000,
        reasoning_tokens=1_000_000,
        num_search_queries=10,
    )
    assert cost_usd(usage, price) == D(2 + 8 + 2 + 3) + D("0.05") + D("0.001")
    assert cost_usd(usage, price, requests=3) == D(15) + D("0.05") + D("0.003")
    assert cost_usd(Usage(prompt_tokens=5, citation_tokens=1_000_000), Price(input=D(1))) == D("0.000005")


def test_a_budget_reserves_the_highest_fee_of_the_route() -> None:
    config = RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock"}, "q": {"kind": "mock"}},
            "models": {
                "search": {
                    "deployments": [
                        {"provider": "p", "model": "sonar"},
                        {"provider": "q", "model": "sonar-pro"},
                    ]
                },
                "plain": {"deployments": [{"provider": "p", "model": "gpt-4o-mini"}]},
            },
        }
    )
    clock = Clock(0)
    store = MemoryBudgetStore(clock=clock, keys=MemoryKeyStore(clock=clock))
    budgets = Budgets(
        store, config.budgets, RouteTable(config), prices=load_prices(), events=MemoryPublisher(), clock=clock
    )
    request = ChatRequest.model_validate(
        {"model": "search", "messages": [{"role": "user", "content": "q" * 400}], "max_tokens": 100}
    )
    plain = request.model_copy(update={"model": "plain"})
    # sonar-pro is the dearest: (104 prompt tokens (400 characters and the message's overhead) * 3
    # + 100 output * 15) / 1M, and its high-context fee, 0.014.
    assert budgets.estimate(request, "search") == D("0.001812") + D("0.014")
    assert budgets.estimate(plain, "plain") < D("0.001")  # no fee on a route without search


def test_savings_count_the_alternatives_fee_for_every_answered_request() -> None:
    pro = {"input": 3, "output": 15, "request": "0.01"}
    plain = {"input": 1, "output": 1, "request": "0.005"}
    config = RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock"}},
            "models": {
                "search": {
                    "deployments": [
                        {"provider": "p", "model": "sonar-pro", "price": pro},
                        {"provider": "p", "model": "sonar", "price": plain},
                    ]
                }
            },
        }
    )
    # 12 requests, one failed and one a cache hit: 10 answered on sonar-pro, tokens 0.018 + fees 0.1.
    delta = UsageDelta(
        tenant="t", key_id="k", model="search", day="2026-11-20", requests=12, errors=1, cache_hits=1,
        prompt_tokens=1000, completion_tokens=1000, cost_usd=D("0.118"), provider="p",
    )  # fmt: skip
    [saving] = savings([delta], RouteTable(config), None, {})
    # sonar: tokens 0.002 + 10 fees of 0.005 (not 0.002 alone).
    assert saving.alternative == "p/sonar" and saving.alternative_cost_usd == D("0.052")
    assert saving.saving_usd == D("0.066")
