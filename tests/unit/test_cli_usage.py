"""``switchyard usage``: the table, top models and keys, the month-end projection and the
recommendations, from the admin usage API (an httpx.MockTransport standing in for the gateway)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import pytest

from switchyard.cli import admin_client, main
from switchyard.cli.usage import projection, recommendations


def row(group: str, cost: str, requests: int = 10, errors: int = 0, saved: str = "0") -> dict[str, Any]:
    return {
        "group": group,
        "requests": requests,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cached_tokens": 0,
        "errors": errors,
        "cache_hits": 1,
        "fallbacks": 0,
        "cost_usd": cost,
        "saved_usd": saved,
    }


def test_projection_extends_the_daily_rate_to_the_month_end() -> None:
    assert projection(Decimal("10"), dt.date(2027, 2, 7)) == Decimal("40")  # 28-day February
    assert projection(Decimal("31"), dt.date(2027, 1, 31)) == Decimal("31")


def test_recommendations_name_the_dominant_model_errors_and_savings() -> None:
    models = [row("gpt-4o", "9"), row("mini", "1")]
    lines = recommendations(models, row("total", "10", requests=100, errors=10, saved="2.5"))
    assert any("gpt-4o takes 90%" in line for line in lines)
    assert any("10 of 100" in line for line in lines)
    assert any("$2.50" in line for line in lines)
    assert recommendations([], row("total", "0")) == []
    saving = {
        "model": "gpt-4o",
        "spend_usd": "9",
        "alternative": "openai/gpt-4o-mini",
        "alternative_cost_usd": "0.54",
        "saving_usd": "8.46",
        "share_of_spend": "0.846",
    }
    lines = recommendations(models, row("total", "10"), [saving])
    assert lines[0] == (
        "gpt-4o: the same tokens on openai/gpt-4o-mini would have cost $0.54 instead of $9.00"
        " (saves $8.46, 85% of spend)"
    )
    assert not any("takes 90%" in line for line in lines)


def test_the_command_prints_a_table_and_the_top_models(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = [row("gpt-4o", "9.5"), row("mini", "0.5")]
        return httpx.Response(
            200,
            json={
                "start": "2027-01-01",
                "end": "2027-01-15",
                "group_by": "model",
                "data": data,
                "total": row("total", "10"),
            },
        )

    monkeypatch.setattr(
        admin_client.httpx, "Client", partial(httpx.Client, transport=httpx.MockTransport(handler))
    )
    assert main(["usage", "--tenant", "acme", "--admin-key", "adm"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4o" in out and "9.50" in out and "top models: gpt-4o ($9.50)" in out
    assert "month-end projection" in out
    assert seen[0].url.params.get_list("tenant") == ["acme"]
