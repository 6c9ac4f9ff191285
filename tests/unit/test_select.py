from __future__ import annotations

import random
from collections import Counter

import pytest

from switchyard.config.routing import RoutingConfig
from switchyard.errors import NotFoundError
from switchyard.routing.catalog import model_card, visible_models
from switchyard.routing.select import RouteTable

CONFIG = RoutingConfig.model_validate(
    {
        "providers": {"a": {"kind": "mock"}, "b": {"kind": "mock"}, "oa": {"kind": "openai"}},
        "models": {
            "m": {
                "deployments": [{"provider": "a", "model": "x"}, {"provider": "b", "model": "y"}],
                "fallbacks": ["n"],
            },
            "n": {"deployments": [{"provider": "b", "model": "z"}], "fallbacks": ["m"]},
            "w": {
                "strategy": "weighted",
                "deployments": [
                    {"provider": "a", "model": "x", "weight": 3},
                    {"provider": "b", "model": "y", "weight": 1},
                ],
            },
        },
        "aliases": {"fast": "m"},
        "wildcards": [{"pattern": "gpt-*", "provider": "oa"}],
    }
)


def ids(table: RouteTable, model: str, seed: int = 0) -> list[str]:
    return [c.deployment_id for c in table.candidates(model, random.Random(seed))]


def test_priority_then_fallbacks_each_once_even_when_cyclic() -> None:
    assert ids(RouteTable(CONFIG), "m") == ["a/x", "b/y", "b/z"]
    assert ids(RouteTable(CONFIG), "n") == ["b/z", "a/x", "b/y"]


def test_alias_resolves_to_its_model() -> None:
    table = RouteTable(CONFIG)
    assert ids(table, "fast") == ids(table, "m")
    assert "fast" in table.public_models


def test_provider_slash_model_goes_straight_to_the_provider() -> None:
    cands = RouteTable(CONFIG).candidates("oa/gpt-5-preview", random.Random())
    assert [(c.provider_name, c.deployment.model) for c in cands] == [("oa", "gpt-5-preview")]


def test_wildcard_pattern_keeps_the_full_name_as_upstream_model() -> None:
    cands = RouteTable(CONFIG).candidates("gpt-4.1-nano", random.Random())
    assert [(c.provider_name, c.deployment.model) for c in cands] == [("oa", "gpt-4.1-nano")]


@pytest.mark.parametrize("name", ["nope", "zz/gpt-4", "claude-3"])
def test_unknown_model_is_not_found(name: str) -> None:
    with pytest.raises(NotFoundError) as info:
        RouteTable(CONFIG).candidates(name, random.Random())
    assert info.value.status == 404 and info.value.param == "model"


def test_weighted_first_choice_follows_the_weights() -> None:
    table = RouteTable(CONFIG)
    rng = random.Random(42)
    firsts = Counter(table.candidates("w", rng)[0].deployment_id for _ in range(4000))
    assert 0.70 < firsts["a/x"] / 4000 < 0.80  # weight 3 of 4
    # every ordering still holds both deployments for failover
    assert sorted(ids(table, "w", 7)) == ["a/x", "b/y"]


def test_knows_every_routable_name_and_nothing_else() -> None:
    table = RouteTable(CONFIG)
    assert all(table.knows(n) for n in ("m", "fast", "oa/anything", "gpt-4.1-nano"))
    assert not any(table.knows(n) for n in ("nope", "zz/gpt-4", "claude-3"))
    assert [table.first_provider(n) for n in ("n", "fast", "gpt-4o")] == ["b", "a", "oa"]


def test_the_catalog_shows_a_key_only_what_it_may_use() -> None:
    table = RouteTable(CONFIG)
    assert [c.id for c in visible_models(table, frozenset())] == table.public_models
    allowed = frozenset({"n", "gpt-4o", "nope"})
    assert [c.id for c in visible_models(table, allowed)] == ["gpt-4o", "n"]
    assert model_card(table, allowed, "n").owned_by == "b"
    for name in ("m", "nope"):  # not the key's / not routable: the same 404
        with pytest.raises(NotFoundError, match="does not exist or you do not have access"):
            model_card(table, allowed, name)
