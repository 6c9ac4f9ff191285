"""The price table and costs from providers' own usage fields, against hand-computed values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from switchyard.accounting import cost_usd
from switchyard.api.anthropic import AnthropicUsage
from switchyard.api.chat import Usage
from switchyard.config.prices import SHIPPED_PRICES, load_prices, read_price_table, resolve_price
from switchyard.config.routing import Price
from switchyard.providers.anthropic_wire import openai_usage

TABLE = load_prices()

# (provider, upstream model, the provider's usage as it sends it, hand-computed USD)
CASES = [
    # OpenAI gpt-4o-mini: 0.15 in, 0.60 out, 0.075 cached.
    # 1000 plain * 0.15 + 0 cached + 200 out * 0.60 = 150 + 120 = 270 / 1e6
    ("openai", "gpt-4o-mini", {"prompt_tokens": 1000, "completion_tokens": 200}, "0.00027"),
    # prompt 10_000 of which 8_000 cached: 2000*0.15 + 8000*0.075 + 500*0.60 = 300+600+300 = 1200
    (
        "openai",
        "gpt-4o-mini",
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 500,
            "prompt_tokens_details": {"cached_tokens": 8_000},
        },
        "0.0012",
    ),
    # gpt-4o, dated name falls back to gpt-4o: 2.50 in, 10 out, 1.25 cached.
    # 3000*2.5 + 1000*1.25 + 100*10 = 7500 + 1250 + 1000 = 9750
    (
        "openai",
        "gpt-4o-2024-08-06",
        {"prompt_tokens": 4000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 1000}},
        "0.00975",
    ),
    # gemini-2.5-flash, no cached tokens: 1_000_000 * 0.30 + 1_000_000 * 2.50 = 2.8 USD
    ("gemini", "gemini-2.5-flash", {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}, "2.8"),
]

# Anthropic: input_tokens excludes cache reads and writes, which have their own fields.
ANTHROPIC_CASES = [
    # claude-sonnet-4-5: 3 in, 15 out, 0.30 read, 3.75 write.
    # 100*3 + 5000*0.30 + 2000*3.75 + 400*15 = 300 + 1500 + 7500 + 6000 = 15300
    (
        "claude-sonnet-4-5-20250929",
        {
            "input_tokens": 100,
            "output_tokens": 400,
            "cache_read_input_tokens": 5000,
            "cache_creation_input_tokens": 2000,
        },
        "0.0153",
    ),
    # claude-haiku-4-5: 1 in, 5 out, 0.10 read, 1.25 write. 50*1 + 10*5 = 100
    ("claude-haiku-4-5", {"input_tokens": 50, "output_tokens": 10}, "0.0001"),
    # 0 plain + 1_000_000 read * 0.10 = 0.1
    (
        "claude-haiku-4-5",
        {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 1_000_000},
        "0.1",
    ),
]


@pytest.mark.parametrize(("provider", "model", "usage", "expected"), CASES)
def test_openai_dialect_costs(provider: str, model: str, usage: dict[str, object], expected: str) -> None:
    price = resolve_price(TABLE, provider, model, None)
    assert cost_usd(Usage.model_validate(usage), price) == Decimal(expected)


@pytest.mark.parametrize(("model", "usage", "expected"), ANTHROPIC_CASES)
def test_anthropic_costs_from_its_cache_fields(model: str, usage: dict[str, object], expected: str) -> None:
    price = resolve_price(TABLE, "anthropic", model, None)
    assert cost_usd(openai_usage(AnthropicUsage.model_validate(usage)), price) == Decimal(expected)


def test_shipped_table_is_versioned() -> None:
    shipped = read_price_table(SHIPPED_PRICES)
    assert shipped.version >= 1
    assert shipped.updated.year >= 2025
    assert shipped.lookup("openai", "no-such-model") is None


def test_deployment_price_wins_over_the_table() -> None:
    own = Price(input=Decimal(1), output=Decimal(1))
    assert resolve_price(TABLE, "openai", "gpt-4o-mini", own) is own
    assert resolve_price(None, "openai", "gpt-4o-mini", None) is None


def test_override_file_wins_and_provider_entries_beat_bare_ones(tmp_path: Path) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text(
        "version: 99\nupdated: 2026-12-01\nmodels:\n"
        "  gpt-4o-mini: {input: 1, output: 2}\n"
        "  azure/gpt-4o: {input: 5, output: 6}\n",
        encoding="utf-8",
    )
    table = load_prices(override)
    assert table.version == 99
    assert table.lookup("openai", "gpt-4o-mini") == Price(input=Decimal(1), output=Decimal(2))
    assert table.lookup("azure", "gpt-4o") == Price(input=Decimal(5), output=Decimal(6))
    assert table.lookup("openai", "gpt-4o") == TABLE.lookup("openai", "gpt-4o")  # untouched entries stay


def test_invalid_override_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 0\nmodels: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_prices(bad)


def test_aggregates_of_many_costs_stay_exact() -> None:
    price = TABLE.lookup("openai", "gpt-4o-mini")
    one = cost_usd(Usage(prompt_tokens=7, completion_tokens=3), price)  # 7*0.15 + 3*0.60 = 2.85 / 1e6
    assert one == Decimal("0.00000285")
    assert sum([one] * 100_000, Decimal(0)) == Decimal("0.285")


@pytest.mark.parametrize(
    ("model", "expected_input"),
    [
        ("amazon.nova-lite-v1:0", "0.06"),
        ("us.amazon.nova-lite-v1:0", "0.06"),  # a geographic profile: its model's price
        ("apac.anthropic.claude-haiku-4-5-20251001-v1:0", "1.1"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "1.0"),  # global profiles: their own
        ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-micro-v1:0", "0.035"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "0.8"),
    ],
)
def test_bedrock_profile_ids_and_arns_find_their_models_price(model: str, expected_input: str) -> None:
    price = load_prices().lookup("bedrock", model)
    assert price is not None and price.input == Decimal(expected_input)


def test_an_application_inference_profile_is_not_guessed() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5"
    assert load_prices().lookup("bedrock", arn) is None
