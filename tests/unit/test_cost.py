from __future__ import annotations

from decimal import Decimal

from switchyard.accounting import cost_usd, format_usd
from switchyard.api.chat import PromptTokensDetails, Usage
from switchyard.config.routing import Price


def test_plain_input_and_output() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500)
    price = Price(input=Decimal("0.15"), output=Decimal("0.60"))
    # 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6 = 0.00015 + 0.0003
    assert cost_usd(usage, price) == Decimal("0.00045")


def test_cached_and_cache_write_tokens_use_their_own_prices() -> None:
    usage = Usage(
        prompt_tokens=10_000,
        completion_tokens=100,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=6_000),
        cache_creation_input_tokens=2_000,
    )
    price = Price(
        input=Decimal(3), output=Decimal(15), cached_input=Decimal("0.30"), cache_write=Decimal("3.75")
    )
    # plain 2000*3 + cached 6000*0.30 + written 2000*3.75 + out 100*15 = 6000+1800+7500+1500 = 16800 / 1e6
    assert cost_usd(usage, price) == Decimal("0.0168")


def test_no_price_or_usage_costs_zero_and_formats_stably() -> None:
    assert cost_usd(None, Price()) == 0
    assert cost_usd(Usage(prompt_tokens=5), None) == 0
    assert format_usd(Decimal("0.00045")) == "0.0004500000"


def test_many_small_costs_do_not_drift() -> None:
    one = cost_usd(
        Usage(prompt_tokens=1, completion_tokens=1), Price(input=Decimal("0.1"), output=Decimal("0.2"))
    )
    assert sum([one] * 1_000_000, Decimal(0)) == Decimal("0.3")
