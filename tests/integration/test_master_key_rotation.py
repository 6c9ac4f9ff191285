"""The master key is read again from its secret on a TTL: two gateway instances (each with its own
warm copy) against one Secrets Manager secret (moto); after an operator puts a new master key in
the secret, both still take the old one just before the TTL and refuse it at the TTL, and take the
new one from then on. A read that fails keeps the key read before (admin auth degrades, never
breaks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_base
from gateway_checks import MESSAGES, dep
from moto import mock_aws
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, running
from fakes import FakeUpstream
from statekit import T0, Clock
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app
from switchyard.keys.auth import ClientAuth
from switchyard.keys.master_key import MasterKey
from switchyard.state.memory import MemoryKeyStore

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SECRET = "switchyard/master"
OLD, NEW = "sk-sy-master-before", "sk-sy-master-after"
TTL_S = 60


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsManagerClient]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    # Powertools keeps one provider (and its boto3 client) per process: none made outside moto.
    powertools_base.DEFAULT_PROVIDERS.clear()
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET, SecretString=f'{{"key": "{OLD}"}}')
        yield client
    powertools_base.DEFAULT_PROVIDERS.clear()


@pytest.fixture
async def instances(
    secrets: SecretsManagerClient, fake_upstream: FakeUpstream, config_file: ConfigFile
) -> AsyncIterator[tuple[Clock, list[httpx.AsyncClient]]]:
    clock = Clock(T0)
    config = fake_upstream.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up")]}}
    )
    settings = RouterSettings(
        config_path=config_file(config),
        master_key_secret=SECRET,
        master_key_ttl_s=TTL_S,
        environment=dict(GATEWAY_ENV),
    )
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = await stack.enter_async_context(running(create_app(settings, clock=clock)))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://gw"))
            )
        yield clock, clients


async def admin_status(client: httpx.AsyncClient, key: str) -> int:
    return (await client.get("/admin/tenants", headers={"Authorization": f"Bearer {key}"})).status_code


async def chat_status(client: httpx.AsyncClient, key: str) -> int:
    body = {"model": "m", "messages": MESSAGES}
    return (
        await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    ).status_code


async def test_a_replaced_master_key_stops_working_in_every_instance_within_the_ttl(
    secrets: SecretsManagerClient, instances: tuple[Clock, list[httpx.AsyncClient]]
) -> None:
    clock, clients = instances
    for client in clients:
        assert await admin_status(client, OLD) == 200 and await chat_status(client, OLD) == 200
    secrets.put_secret_value(SecretId=SECRET, SecretString=f'{{"key": "{NEW}"}}')
    clock.advance(TTL_S - 1)
    for client in clients:  # each instance's copy is still within its TTL
        assert await admin_status(client, OLD) == 200
        assert await admin_status(client, NEW) == 401
    clock.advance(1)
    for client in clients:
        assert await admin_status(client, OLD) == 401
        assert await chat_status(client, OLD) == 401  # /v1 routes too: it was the master key
        assert await admin_status(client, NEW) == 200 and await chat_status(client, NEW) == 200


async def test_a_master_key_that_cannot_be_read_keeps_the_last_one(
    secrets: SecretsManagerClient, instances: tuple[Clock, list[httpx.AsyncClient]]
) -> None:
    clock, clients = instances
    secrets.delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    clock.advance(TTL_S)
    assert await admin_status(clients[0], OLD) == 200


async def test_one_read_per_ttl_however_many_requests() -> None:
    clock = Clock(T0)
    reads: list[float] = []

    def read() -> SecretStr:
        reads.append(clock())
        return SecretStr(NEW)

    master = MasterKey(SecretStr(OLD), read=read, ttl_s=TTL_S, clock=clock)
    assert [await master.current() for _ in range(5)] == [OLD.encode()] * 5
    assert reads == []
    clock.advance(TTL_S)
    assert {await master.current() for _ in range(5)} == {NEW.encode()}
    assert reads == [T0 + TTL_S]
    assert master.id.startswith("k_")


async def test_a_failed_read_is_tried_again_soon_not_on_every_request() -> None:
    clock = Clock(T0)
    attempts: list[float] = []

    def read() -> SecretStr:
        attempts.append(clock())
        raise RuntimeError("Secrets Manager unreachable")

    master = MasterKey(SecretStr(OLD), read=read, ttl_s=TTL_S, clock=clock)
    clock.advance(TTL_S)
    assert await master.current() == OLD.encode()
    assert await master.current() == OLD.encode()
    assert len(attempts) == 1
    clock.advance(5)
    assert await master.current() == OLD.encode()
    assert len(attempts) == 2


async def test_the_worker_sees_a_replaced_master_key_by_its_id() -> None:
    """The worker looks a queued job's key up by id only (it never sees the key): a job queued with
    the old master key finds no identity once the TTL has passed, as with a revoked key."""
    clock = Clock(T0)
    current = [OLD]
    master = MasterKey(SecretStr(OLD), read=lambda: SecretStr(current[0]), ttl_s=TTL_S, clock=clock)
    auth = ClientAuth(master, MemoryKeyStore(clock=clock), clock=clock, wall=clock)
    old_id = master.id
    assert (await auth.identity_by_id(old_id)) is not None
    current[0] = NEW
    clock.advance(TTL_S)
    assert await auth.identity_by_id(old_id) is None
    assert await auth.tenant_by_id(old_id) is None
    new = await auth.identity_by_id(master.id)
    assert new is not None and new.admin and master.id != old_id
