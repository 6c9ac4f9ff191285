"""``make run`` drives the budget function: over the (lowered) local daily budget, the emulated
global cost alarm goes to ALARM and the budget function sets the override in the local DynamoDB
state, as EventBridge and the BudgetFunction do in AWS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from fakes import MASTER_KEY

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e


def test_make_run_applies_the_global_budget_action(local_runtime: Callable[..., LocalRuntime]) -> None:
    runtime = local_runtime(
        env={"SWITCHYARD_LOCAL_DAILY_BUDGET_USD": "0.0000001", "BUDGET_ACTION": "downgrade"}
    )
    assert "budget:         downgrade at $1e-07 per 24 h, $25 per hour" in runtime.output()
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    answer = httpx.post(f"{runtime.base_url}/chat/completions", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200
    deadline = time.monotonic() + 15
    while "budget alarm applied" not in runtime.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    applied = [line for line in runtime.output().splitlines() if "budget alarm applied" in line]
    assert applied, runtime.output()
    assert '"applied":"set"' in applied[0] and '"action":"downgrade"' in applied[0]
    assert '"alarm":"switchyard-global-budget"' in applied[0]
