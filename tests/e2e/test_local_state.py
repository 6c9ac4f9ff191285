"""``make run`` keeps its state in DynamoDB: an embedded moto server on 127.0.0.1, the tables
created from template.yaml, the DynamoDB adapters in use (the official SDK sees the cache work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from fakes import MASTER_KEY

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e


def test_the_local_runtime_serves_from_dynamodb_on_moto(local_runtime: Callable[..., LocalRuntime]) -> None:
    runtime = local_runtime()  # the shipped config: the mock provider answers
    assert (
        "state:          DynamoDB table switchyard-StateTable (emulated at http://127.0.0.1:"
        in runtime.output()
    )
    messages = [{"role": "user", "content": "Hello"}]
    with openai.OpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30) as sdk:
        first = sdk.chat.completions.with_raw_response.create(
            model="mock-1", messages=messages, temperature=0
        )
        second = sdk.chat.completions.with_raw_response.create(
            model="mock-1", messages=messages, temperature=0
        )
    assert (first.headers["x-switchyard-cache"], second.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    state = httpx.get(f"{runtime.url}/health/ready", timeout=10).json()["state"]
    assert state["backend"] == "dynamodb" and state["degraded"] == []
    assert state["aws_calls"] >= 3  # lookup, breaker read, store, lookup


def test_the_local_runtime_can_keep_state_in_memory(local_runtime: Callable[..., LocalRuntime]) -> None:
    runtime = local_runtime(env={"SWITCHYARD_LOCAL_STATE": "memory"})
    assert "state:          in memory" in runtime.output()
    state = httpx.get(f"{runtime.url}/health/ready", timeout=10).json()["state"]
    assert (state["backend"], state["aws_calls"]) == ("memory", 0)
