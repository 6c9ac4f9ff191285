"""The admin API and virtual keys as callers see them, on memory state and on DynamoDB (moto):
create, use, restrict, limit, list, rotate with grace, revoke; a second router instance sees a
revocation within the key cache TTL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, dep

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream
from statekit import T0, Clock


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream) -> dict[str, Any]:
    return fake.routing_config(
        providers={"a": "openai"},
        models={"m": {"deployments": [dep("a", "up-a")]}, "n": {"deployments": [dep("a", "up-n")]}},
    )


async def ask(client: httpx.AsyncClient, key: str, model: str = "m") -> httpx.Response:
    return await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/admin/keys", json={"tenant": "acme", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_created_key_serves_within_its_models_and_limits(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    made = await create(client, name="ci", models=["m"], limits={"rpm": 2}, metadata={"team": "x"})
    assert made["key"].startswith("sk-sy-") and made["key_id"].startswith("k_")
    assert (await ask(client, made["key"])).status_code == 200
    denied = await ask(client, made["key"], "n")
    assert denied.status_code == 403
    assert made["key"] not in denied.text
    assert (await ask(client, made["key"])).status_code == 200
    limited = await ask(client, made["key"])
    assert limited.status_code == 429  # the key's own rpm of 2
    shown = (await client.get(f"/admin/keys/{made['key_id']}")).json()
    assert "key" not in shown and shown["metadata"] == {"team": "x"} and shown["limits"] == {"rpm": 2}
    listed = (await client.get("/admin/keys", params={"tenant": "acme"})).json()["data"]
    assert [k["key_id"] for k in listed] == [made["key_id"]]


async def test_rotate_keeps_the_old_key_for_the_grace_then_revoke_is_immediate_here(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    clock = Clock(T0 + 5)
    client = await gateway(config(fake_upstream), settings_extra=state, clock=clock)
    old = await create(client)
    rotated = await client.post(f"/admin/keys/{old['key_id']}/rotate", json={"grace_s": 100})
    assert rotated.status_code == 201
    new = rotated.json()
    assert (await ask(client, old["key"])).status_code == 200
    assert (await ask(client, new["key"])).status_code == 200
    clock.advance(100)
    assert (await ask(client, old["key"])).status_code == 401
    assert (await client.delete(f"/admin/keys/{new['key_id']}")).status_code == 204
    refused = await ask(client, new["key"])
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "revoked_api_key"


async def test_admin_routes_need_the_master_key(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state)
    made = await create(client)
    as_key = await client.get("/admin/tenants", headers={"Authorization": f"Bearer {made['key']}"})
    assert as_key.status_code == 403
    anonymous = await client.get("/admin/tenants", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert (await client.post("/admin/keys", json={"name": "no tenant"})).status_code == 400
    assert (await client.get("/admin/keys/k_nothing")).status_code == 404


async def test_tenants_are_created_updated_and_listed(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state)
    put = await client.put("/admin/tenants/beta", json={"name": "Beta", "budget_usd": "25.50"})
    assert put.status_code == 200
    await create(client)  # creates tenant acme
    tenants = (await client.get("/admin/tenants")).json()["data"]
    assert [t["tenant"] for t in tenants] == ["acme", "beta"]
    beta = (await client.get("/admin/tenants/beta")).json()
    assert (beta["name"], beta["budgets"], beta["budget_action"]) == ("Beta", {"monthly": "25.50"}, "block")
    both = {"budgets": {"daily": "1"}, "budget_usd": "2"}
    assert (await client.put("/admin/tenants/beta", json=both)).status_code == 400


async def test_a_key_update_changes_only_the_fields_it_names(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))
    made = await create(
        client,
        name="ci",
        models=["m"],
        limits={"rpm": 2, "max_concurrent": 3},
        budgets={"daily": "5", "monthly": "100"},
        metadata={"team": "x", "env": "prod"},
        expires_at=T0 + 86400,
    )
    path = f"/admin/keys/{made['key_id']}"
    patched = await client.patch(path, json={"limits": {"tpm": 20000}, "budgets": {"daily": "7"}})
    assert patched.status_code == 200, patched.text
    shown = (await client.get(path)).json()
    assert shown["limits"] == {"rpm": 2, "max_concurrent": 3, "tpm": 20000}
    assert shown["budgets"] == {"daily": "7", "monthly": "100"}
    assert (shown["name"], shown["models"], shown["metadata"]) == ("ci", ["m"], {"team": "x", "env": "prod"})
    assert shown["expires_at"] == T0 + 86400
    # The limit the update left alone still holds when the key is used (rpm 2).
    assert [(await ask(client, made["key"])).status_code for _ in range(3)] == [200, 200, 429]
    # null removes one entry, or resets a whole field to its default.
    removed = {"limits": {"rpm": None}, "metadata": {"env": None}, "expires_at": None, "models": None}
    assert (await client.patch(path, json=removed)).status_code == 200
    shown = (await client.get(path)).json()
    assert shown["limits"] == {"max_concurrent": 3, "tpm": 20000}
    assert (shown["metadata"], shown["expires_at"], shown["models"]) == ({"team": "x"}, None, [])
    assert (await client.patch(path, json={"budgets": None})).json()["budgets"] == {}
    unknown = await client.patch(path, json={"limits": {"rpx": 1}})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "limits"
    assert (await client.get(path)).json()["limits"] == {"max_concurrent": 3, "tpm": 20000}


async def test_a_tenant_update_changes_only_the_fields_it_names(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state)
    first = {"name": "Beta", "budgets": {"daily": "1", "monthly": "30"}, "budget_action": "downgrade"}
    created = (await client.put("/admin/tenants/beta", json={**first, "metadata": {"a": "1"}})).json()
    again = await client.put("/admin/tenants/beta", json={"budgets": {"monthly": "50"}})
    assert again.status_code == 200
    beta = (await client.get("/admin/tenants/beta")).json()
    assert (beta["name"], beta["budget_action"], beta["metadata"]) == ("Beta", "downgrade", {"a": "1"})
    assert beta["budgets"] == {"daily": "1", "monthly": "50"}
    assert beta["created_at"] == created["created_at"]
    patched = await client.patch("/admin/tenants/beta", json={"budgets": {"daily": None}, "name": None})
    assert (patched.json()["budgets"], patched.json()["name"]) == ({"monthly": "50"}, "")
    missing = await client.patch("/admin/tenants/nobody", json={"name": "x"})
    assert missing.status_code == 404
    assert "nobody" not in [t["tenant"] for t in (await client.get("/admin/tenants")).json()["data"]]


async def test_another_instance_sees_a_revocation_within_the_ttl(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state_tables: Any
) -> None:
    clock = Clock(T0 + 5)
    shared = {**dynamo_settings(state_tables), "key_cache_ttl_s": 30}
    first = await gateway(config(fake_upstream), settings_extra=shared, clock=clock)
    second = await gateway(config(fake_upstream), settings_extra=shared, clock=clock)
    made = await create(first)
    assert (await ask(second, made["key"])).status_code == 200  # cached in the second instance
    assert (await first.post(f"/admin/keys/{made['key_id']}/revoke")).status_code == 204
    assert (await ask(first, made["key"])).status_code == 401
    clock.advance(29)
    assert (await ask(second, made["key"])).status_code == 200  # still within its TTL
    clock.advance(1)
    assert (await ask(second, made["key"])).status_code == 401
