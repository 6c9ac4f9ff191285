"""Exact costs as a caller sees them: the shipped price table for unpriced deployments, the
override file, provider cache fields, a stream's cost comment, and cache hits that cost 0 and
report what they saved."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from gateway_checks import MESSAGES, dep
from streaming_checks import cost_of

from conftest import GatewayFactory
from fakes import FakeUpstream, Reply


def config(fake: FakeUpstream) -> dict[str, Any]:
    # No `price`: the shipped table prices gpt-4o-mini (0.15 in, 0.60 out, 0.075 cached) and
    # claude-haiku-4-5 (1 in, 5 out, 0.10 read, 1.25 write).
    return fake.routing_config(
        providers={"o": "openai", "c": "anthropic"},
        models={
            "m": {"deployments": [dep("o", "gpt-4o-mini")]},
            "h": {"deployments": [dep("c", "claude-haiku-4-5")]},
        },
    )


async def ask(client: httpx.AsyncClient, model: str = "m", **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES, **fields})


async def test_unpriced_deployment_is_priced_from_the_shipped_table(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.script("o", Reply.ok(input_tokens=1000, output_tokens=100, cache_read_tokens=3000))
    response = await ask(client)
    # 1000 plain * 0.15 + 3000 cached * 0.075 + 100 out * 0.60 = 150 + 225 + 60 = 435 / 1e6
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.000435")


async def test_anthropic_cache_reads_and_writes_are_priced_apart(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    reply = Reply.ok(input_tokens=100, output_tokens=20, cache_read_tokens=1000, cache_write_tokens=400)
    fake_upstream.script("c", reply)
    response = await ask(client, "h")
    # 100*1 + 1000*0.10 + 400*1.25 + 20*5 = 100 + 100 + 500 + 100 = 800 / 1e6
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.0008")


async def test_a_stream_reports_its_cost_at_the_end(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.script("o", Reply.ok(input_tokens=1000, output_tokens=100))
    response = await ask(client, stream=True, stream_options={"include_usage": True})
    assert Decimal(cost_of(response.text)) == Decimal("0.00021")  # 150 + 60


async def test_a_cache_hit_costs_nothing_and_reports_the_saving(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.script("o", Reply.ok(input_tokens=1000, output_tokens=100))
    first = await ask(client, temperature=0)
    second = await ask(client, temperature=0)
    assert second.headers["x-switchyard-cache"] == "hit"
    assert Decimal(second.headers["x-switchyard-cost-usd"]) == 0
    assert Decimal(second.headers["x-switchyard-cost-saved-usd"]) == Decimal(
        first.headers["x-switchyard-cost-usd"]
    )
    assert Decimal(first.headers["x-switchyard-cost-usd"]) == Decimal("0.00021")


async def test_the_override_file_replaces_shipped_prices(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, tmp_path: Path
) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text("version: 7\nupdated: 2026-11-20\nmodels:\n  gpt-4o-mini: {input: 1, output: 1}\n")
    client = await gateway(config(fake_upstream), settings_extra={"prices_path": override})
    fake_upstream.script("o", Reply.ok(input_tokens=1000, output_tokens=100))
    assert Decimal((await ask(client)).headers["x-switchyard-cost-usd"]) == Decimal("0.0011")
