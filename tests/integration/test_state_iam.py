"""The router's DynamoDB permissions in template.yaml are exactly the calls it makes, per table:
the app serves every state path (cache miss, store and hit, key and deployment leases, a
concurrency slot, a breaker write, the health summary) against moto, counting calls by table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from cfnlint.decode import decode_str
from gateway_checks import MESSAGES, dep
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, dynamo_settings, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.config.settings import Settings
from switchyard.http.app import create_app

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def router_dynamodb_actions() -> dict[str, set[str]]:
    """Table logical id -> the dynamodb actions the router's inline policies allow on it."""
    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches
    allowed: dict[str, set[str]] = {}
    for policy in template["Resources"]["RouterFunction"]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    logical_id = resource["Fn::GetAtt"][0]
                    allowed.setdefault(logical_id, set()).update(
                        a for a in actions if a.startswith("dynamodb:")
                    )
    return {table: actions for table, actions in allowed.items() if actions}


async def test_the_router_policy_allows_exactly_the_calls_it_makes(
    fake_upstream: FakeUpstream, config_file: ConfigFile, state_tables: Any
) -> None:
    routing = fake_upstream.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a", rpm=100, max_concurrent=5), dep("b", "up-b")]}},
    )
    settings = Settings(
        config_path=config_file({**routing, "limits": {"default": {"rpm": 100, "tpm": 100_000}}}),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        **dynamo_settings(state_tables),
    )
    clock = Clock(T0 + 10)
    app = create_app(settings, clock=clock)
    body = {"model": "m", "messages": MESSAGES}
    async with running(app) as asgi:
        transport = httpx.ASGITransport(app=asgi)
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers
        ) as client:
            for _ in range(2):
                assert (
                    await client.post("/v1/chat/completions", json={**body, "seed": 1})
                ).status_code == 200
            fake_upstream.script("a", Reply.overloaded())
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
            clock.advance(5)  # breaker copies go stale: the summary reads them back in one batch
            assert (await client.get("/health/ready")).status_code == 200
        used = app.state.gateway.state.calls.by_table()

    logical = {name: logical_id for logical_id, name in state_tables.tables.items()}
    observed = {logical[table]: {f"dynamodb:{op}" for op in ops} for table, ops in used.items()}
    assert observed == router_dynamodb_actions()
