"""Virtual keys: the service (create, update, rotate with grace, revoke) and client authentication
through the warm cache (a revocation is seen within the TTL, and not a lookup per request)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from statekit import T0, Clock
from switchyard.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from switchyard.keys.auth import MAX_TTL_S, ClientAuth
from switchyard.keys.ids import key_hash
from switchyard.keys.virtual import PREFIX, KeyService, KeySpec
from switchyard.state.memory import MemoryKeyStore
from switchyard.state.ports import KeyRecord, StateUnavailableError

MASTER = "sk-master-test"


class CountingStore(MemoryKeyStore):
    """Counts lookups, and can be made unreachable."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.gets = 0
        self.down = False

    async def get(self, key_id: str) -> KeyRecord | None:
        self.gets += 1
        if self.down:
            raise StateUnavailableError("down")
        return await super().get(key_id)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(clock: Clock) -> CountingStore:
    return CountingStore(clock)


def make_auth(store: CountingStore, clock: Clock, ttl_s: float = 30) -> ClientAuth:
    return ClientAuth(SecretStr(MASTER), store, ttl_s=ttl_s, clock=clock, wall=clock)


async def test_created_keys_are_prefixed_hashed_and_shown_once(store: CountingStore, clock: Clock) -> None:
    issued = await KeyService(store, clock=clock).create(
        KeySpec(tenant="acme", models=("m",), limits={"rpm": 5}, budgets={"daily": Decimal("3")})
    )
    assert issued.key.startswith(PREFIX) and len(issued.key) > 40
    stored = await store.get(issued.record.key_id)
    assert stored is not None and stored.key_hash == key_hash(issued.key)
    assert issued.key not in repr(stored)
    assert (await store.get_tenant("acme")) is not None  # the tenant comes into being with its key


async def test_create_needs_a_tenant_and_known_limits(store: CountingStore, clock: Clock) -> None:
    service = KeyService(store, clock=clock)
    with pytest.raises(InvalidRequestError):
        await service.create(KeySpec())
    with pytest.raises(InvalidRequestError, match="bogus"):
        await service.create(KeySpec(tenant="acme", limits={"bogus": 1}))


async def test_master_and_virtual_keys_authenticate(store: CountingStore, clock: Clock) -> None:
    auth = make_auth(store, clock)
    issued = await KeyService(store, clock=clock).create(KeySpec(tenant="acme", models=("m",)))
    master = await auth.authenticate(MASTER)
    assert master.admin and master.tenant == "default"
    who = await auth.authenticate(issued.key)
    assert (who.key_id, who.tenant, who.admin) == (issued.record.key_id, "acme", False)
    assert auth.identity(who.key_id) is who
    with pytest.raises(PermissionDeniedError):
        who.check_model("other")
    who.check_model("m")
    for bad in (None, "sk-other", issued.key + "x", PREFIX + "x" * 43):
        with pytest.raises(AuthenticationError) as refused:
            await auth.authenticate(bad)
        assert refused.value.status == 401 and (bad is None or bad not in refused.value.message)
        assert refused.value.code == ("missing_api_key" if bad is None else "invalid_api_key")


async def test_lookups_hit_the_warm_cache_and_revocation_lands_within_the_ttl(
    store: CountingStore, clock: Clock
) -> None:
    auth = make_auth(store, clock, ttl_s=30)
    issued = await KeyService(store, clock=clock).create(KeySpec(tenant="acme"))
    for _ in range(50):
        await auth.authenticate(issued.key)
    assert store.gets == 1
    await store.revoke(issued.record.key_id)  # by another container: this one has not heard
    clock.advance(29)
    await auth.authenticate(issued.key)
    clock.advance(1)
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.authenticate(issued.key)


async def test_the_ttl_is_capped_at_a_minute(store: CountingStore, clock: Clock) -> None:
    auth = make_auth(store, clock, ttl_s=3600)
    issued = await KeyService(store, clock=clock).create(KeySpec(tenant="acme"))
    await auth.authenticate(issued.key)
    await store.revoke(issued.record.key_id)
    clock.advance(MAX_TTL_S)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(issued.key)


async def test_forget_makes_a_local_change_immediate(store: CountingStore, clock: Clock) -> None:
    auth = make_auth(store, clock)
    issued = await KeyService(store, clock=clock).create(KeySpec(tenant="acme"))
    await auth.authenticate(issued.key)
    await store.revoke(issued.record.key_id)
    auth.forget(issued.record.key_id)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(issued.key)


async def test_rotation_keeps_the_old_key_for_the_grace_period(store: CountingStore, clock: Clock) -> None:
    service = KeyService(store, clock=clock)
    auth = make_auth(store, clock)
    old = await service.create(KeySpec(tenant="acme", limits={"rpm": 7}, metadata={"team": "x"}))
    new = await service.rotate(old.record.key_id, grace_s=600)
    assert new.key != old.key
    assert (new.record.tenant, dict(new.record.limits), dict(new.record.metadata)) == (
        "acme",
        {"rpm": 7},
        {"team": "x"},
    )
    assert (await service.show(old.record.key_id)).replaced_by == new.record.key_id
    auth.forget(old.record.key_id)
    await auth.authenticate(old.key)
    await auth.authenticate(new.key)
    clock.advance(600)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(old.key)  # gone from the store once past its expiry
    await auth.authenticate(new.key)


async def test_update_and_revoke_and_missing_keys(store: CountingStore, clock: Clock) -> None:
    service = KeyService(store, clock=clock)
    issued = await service.create(KeySpec(tenant="acme", name="a"))
    updated = await service.update(issued.record.key_id, KeySpec(name="b", models=("m",)))
    assert (updated.name, updated.models, updated.tenant) == ("b", ("m",), "acme")
    with pytest.raises(InvalidRequestError):
        await service.update(issued.record.key_id, KeySpec(tenant="other"))
    await service.revoke(issued.record.key_id)
    with pytest.raises(InvalidRequestError):
        await service.rotate(issued.record.key_id, 10)
    for call in (service.show("k_none"), service.revoke("k_none"), service.tenant("none")):
        with pytest.raises(NotFoundError):
            await call


async def test_store_outage_uses_a_stale_record_or_refuses_unseen_keys(
    store: CountingStore, clock: Clock
) -> None:
    auth = make_auth(store, clock)
    service = KeyService(store, clock=clock)
    seen, unseen = await service.create(KeySpec(tenant="acme")), await service.create(KeySpec(tenant="acme"))
    await auth.authenticate(seen.key)
    store.down = True
    clock.advance(120)
    assert (await auth.authenticate(seen.key)).tenant == "acme"
    with pytest.raises(GatewayError) as refused:
        await auth.authenticate(unseen.key)
    assert refused.value.status == 503


async def test_a_cached_key_stops_at_its_expiry_not_at_the_ttl(store: CountingStore, clock: Clock) -> None:
    auth = make_auth(store, clock, ttl_s=30)
    issued = await KeyService(store, clock=clock).create(KeySpec(tenant="acme", expires_at=T0 + 10))
    await auth.authenticate(issued.key)
    clock.advance(10)
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate(issued.key)
    assert store.gets == 1
