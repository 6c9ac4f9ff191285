"""Signed requests over HTTP: a key (or its tenant) that requires them refuses unsigned,
tampered, expired (clock skew either way) and replayed POSTs with 401 invalid_signature in the
route's dialect; the secret is shown once and stored only as a salt; rotation keeps the old
secret for its grace; POST /v1/jobs is signed too; replays are caught across instances sharing
the DynamoDB table."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream
from statekit import Clock
from switchyard import signing

CHAT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
JOB = json.dumps({"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}).encode()


def routing(fake: FakeUpstream) -> dict[str, Any]:
    return fake.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [{"provider": "a", "model": "up"}]}}
    )


async def signed_key(admin: httpx.AsyncClient, tenant: str = "acme", **secret: Any) -> tuple[str, str, str]:
    """(key, key id, signing secret) of a new key that requires signed requests."""
    made = (await admin.post("/admin/keys", json={"tenant": tenant})).json()
    issued = await admin.post(f"/admin/keys/{made['key_id']}/signing-secret", json=secret)
    assert issued.status_code == 201, issued.text
    return made["key"], made["key_id"], issued.json()["secret"]


async def post(
    client: httpx.AsyncClient,
    key: str,
    body: bytes,
    signature: str | None,
    path: str = "/v1/chat/completions",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    if signature is not None:
        headers[signing.HEADER] = signature
    return await client.post(path, content=body, headers=headers)


def refused(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_signature"
    return response.headers["x-switchyard-signature-error"]


async def test_a_key_that_requires_signatures_refuses_all_but_fresh_valid_ones(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    clock = Clock(1_800_000_000.0)
    client = await gateway(routing(fake_upstream), clock=clock)
    key, key_id, secret = await signed_key(client)
    now = int(clock())

    assert refused(await post(client, key, CHAT, None)) == "missing"
    assert refused(await post(client, key, CHAT, "t=abc")) == "malformed"
    ok = signing.sign(secret, CHAT, timestamp=now)
    assert (await post(client, key, CHAT, ok)).status_code == 200
    assert refused(await post(client, key, CHAT, ok)) == "replayed"
    tampered = CHAT.replace(b"hi", b"ho")
    assert (
        refused(await post(client, key, tampered, signing.sign(secret, CHAT, timestamp=now + 1)))
        == "mismatch"
    )
    for skew in (-301, 301):
        assert (
            refused(await post(client, key, CHAT, signing.sign(secret, CHAT, timestamp=now + skew)))
            == "expired"
        )
    assert (await post(client, key, CHAT, signing.sign(secret, CHAT, timestamp=now - 299))).status_code == 200
    assert (await post(client, key, CHAT, signing.sign(secret, CHAT, timestamp=now + 299))).status_code == 200
    assert fake_upstream.count("a") == 3

    # Reads are authenticated by the key alone; POST /v1/jobs is signed like any POST.
    assert (await client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    assert refused(await post(client, key, JOB, None, "/v1/jobs")) == "missing"
    assert (
        await post(client, key, JOB, signing.sign(secret, JOB, timestamp=now), "/v1/jobs")
    ).status_code == 202

    # The Anthropic route answers in its own shape.
    messages = await post(client, key, CHAT, None, "/v1/messages")
    assert messages.status_code == 401 and messages.json()["error"]["type"] == "authentication_error"
    assert "missing" in messages.json()["error"]["message"]

    # The secret is shown once; the store and every admin answer hold only a salt, never shown.
    record = await client._transport.app.app.state.gateway.state.keys.get(key_id)  # type: ignore[attr-defined]
    shown = (await client.get(f"/admin/keys/{key_id}")).text
    assert secret not in shown and record.signing[0].salt not in shown and secret not in repr(record)
    assert json.loads(shown)["require_signature"] is True


async def test_rotation_keeps_the_old_secret_for_its_grace_and_removal_ends_signing(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    clock = Clock(1_800_000_000.0)
    client = await gateway(routing(fake_upstream), clock=clock)
    key, key_id, old = await signed_key(client)
    new = (await client.post(f"/admin/keys/{key_id}/signing-secret", json={"grace_s": 60})).json()
    assert new["secret"] != old and [s["expires_at"] for s in new["signing_secrets"]] == [None, clock() + 60]
    t = int(clock())
    assert (await post(client, key, CHAT, signing.sign(old, CHAT, timestamp=t))).status_code == 200
    assert (await post(client, key, CHAT, signing.sign(new["secret"], CHAT, timestamp=t))).status_code == 200
    clock.advance(61)
    assert (
        refused(await post(client, key, CHAT, signing.sign(old, CHAT, timestamp=int(clock())))) == "mismatch"
    )

    leaked = (await client.post(f"/admin/keys/{key_id}/signing-secret", json={"grace_s": 0})).json()
    assert len(leaked["signing_secrets"]) == 1
    assert (
        refused(await post(client, key, CHAT, signing.sign(new["secret"], CHAT, timestamp=int(clock()))))
        == "mismatch"
    )

    assert (await client.delete(f"/admin/keys/{key_id}/signing-secret")).status_code == 204
    assert (await post(client, key, CHAT, None)).status_code == 200


async def test_a_tenant_can_require_signatures_of_every_key(
    gateway: GatewayFactory, fake_upstream: FakeUpstream
) -> None:
    client = await gateway(routing(fake_upstream))
    plain = (await client.post("/admin/keys", json={"tenant": "acme"})).json()
    needs_secret = await client.patch(f"/admin/keys/{plain['key_id']}", json={"require_signature": True})
    assert needs_secret.status_code == 400 and needs_secret.json()["error"]["param"] == "require_signature"
    assert (await post(client, plain["key"], CHAT, None)).status_code == 200

    tenant = await client.put("/admin/tenants/acme", json={"require_signature": True})
    assert tenant.json()["require_signature"] is True
    assert refused(await post(client, plain["key"], CHAT, None)) == "missing"
    assert refused(await post(client, plain["key"], CHAT, signing.sign("sysig_x", CHAT))) == "mismatch"
    other = (await client.post("/admin/keys", json={"tenant": "other"})).json()
    assert (await post(client, other["key"], CHAT, None)).status_code == 200
    assert (await client.put("/admin/tenants/acme", json={"name": "Acme"})).json()[
        "require_signature"
    ] is True


async def test_a_replay_to_another_instance_sharing_the_table_is_refused(
    gateway: GatewayFactory, fake_upstream: FakeUpstream, state_tables: Any
) -> None:
    shared = {**dynamo_settings(state_tables), "signing_secret": SecretStr("signing-master-for-tests")}
    first = await gateway(routing(fake_upstream), settings_extra=shared)
    second = await gateway(routing(fake_upstream), settings_extra=shared)
    key, _, secret = await signed_key(first)
    header = signing.sign(secret, CHAT)
    assert (await post(first, key, CHAT, header)).status_code == 200
    assert refused(await post(second, key, CHAT, header)) == "replayed"
    assert (
        await post(second, key, CHAT, signing.sign(secret, CHAT, timestamp=int(signing.parse(header)[0]) + 1))
    ).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b'{"model": "m"}'])
async def test_a_signed_but_malformed_body_gets_the_ordinary_400(
    gateway: GatewayFactory, fake_upstream: FakeUpstream, body: bytes
) -> None:
    client = await gateway(routing(fake_upstream))
    key, _, secret = await signed_key(client)
    answer = await post(client, key, body, signing.sign(secret, body))
    assert answer.status_code == 400
