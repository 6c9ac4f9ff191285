"""The gateway's check of signed requests: which of missing, malformed, expired (clock skew
either way), mismatch or replayed; secrets kept only as salts; a rotated secret's grace; the
tenant's requirement; what needs no signature."""

from __future__ import annotations

import pytest

from statekit import T0, Clock
from switchyard import signing
from switchyard.errors import GatewayError, SignatureError
from switchyard.keys.auth import Identity
from switchyard.keys.signatures import SECRET_PREFIX, RequestSigning
from switchyard.keys.tenants import TenantCache
from switchyard.state.memory import MemoryKeyStore
from switchyard.state.ports import SigningSalt, StateUnavailableError, TenantRecord
from switchyard.state.signatures import MemorySeenSignatures

BODY = b'{"model": "m", "messages": []}'


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryKeyStore:
    return MemoryKeyStore(clock=clock)


@pytest.fixture
def signer(store: MemoryKeyStore, clock: Clock) -> RequestSigning:
    return RequestSigning(
        b"master", MemorySeenSignatures(clock=clock), TenantCache(store, clock=clock), clock=clock
    )


def identity(*salts: SigningSalt, required: bool = True, tenant: str = "acme") -> Identity:
    return Identity("k_1", tenant, signing=salts, require_signature=required)


async def body() -> bytes:
    return BODY


async def reason(signer: RequestSigning, who: Identity, header: str | None) -> str:
    with pytest.raises(SignatureError) as refused:
        await signer.check(who, header, body)
    assert refused.value.status == 401 and refused.value.code == "invalid_signature"
    assert refused.value.headers == {"x-switchyard-signature-error": refused.value.reason}
    assert SECRET_PREFIX not in refused.value.message
    return refused.value.reason


def test_a_secret_is_derived_from_its_salt_under_the_master(signer: RequestSigning) -> None:
    salt, secret = signer.new_secret()
    assert secret.startswith(SECRET_PREFIX) and signer.secret(salt) == secret
    assert salt not in secret and len(salt) == 32
    other = RequestSigning(b"other master", MemorySeenSignatures(), signer._tenants)
    assert other.secret(salt) != secret  # the table's salt alone gives no secret


async def test_a_valid_signature_passes_once(signer: RequestSigning, clock: Clock) -> None:
    salt, secret = signer.new_secret()
    who = identity(SigningSalt(salt, T0))
    header = signing.sign(secret, BODY, timestamp=int(clock()))
    await signer.check(who, header, body)
    assert await reason(signer, who, header) == "replayed"


@pytest.mark.parametrize("skew", [-301, 301, -3600])
async def test_a_timestamp_outside_five_minutes_either_way_is_expired(
    signer: RequestSigning, clock: Clock, skew: int
) -> None:
    salt, secret = signer.new_secret()
    header = signing.sign(secret, BODY, timestamp=int(clock()) + skew)
    assert await reason(signer, identity(SigningSalt(salt, T0)), header) == "expired"


@pytest.mark.parametrize("skew", [-299, 299])
async def test_a_skew_inside_the_window_passes(signer: RequestSigning, clock: Clock, skew: int) -> None:
    salt, secret = signer.new_secret()
    await signer.check(
        identity(SigningSalt(salt, T0)), signing.sign(secret, BODY, timestamp=int(clock()) + skew), body
    )


async def test_mismatch_missing_and_malformed(signer: RequestSigning, clock: Clock) -> None:
    salt, secret = signer.new_secret()
    who = identity(SigningSalt(salt, T0))
    now = int(clock())
    assert await reason(signer, who, signing.sign(secret, b"another body", timestamp=now)) == "mismatch"
    assert await reason(signer, who, signing.sign("sysig_wrong", BODY, timestamp=now)) == "mismatch"
    assert await reason(signer, who, None) == "missing"
    assert await reason(signer, who, "v1=abc") == "malformed"
    assert await reason(signer, who, f"t={now},v1=ünïcode") == "mismatch"


async def test_a_replaced_secret_works_until_its_grace_ends(signer: RequestSigning, clock: Clock) -> None:
    old_salt, old = signer.new_secret()
    new_salt, new = signer.new_secret()
    who = identity(SigningSalt(new_salt, T0), SigningSalt(old_salt, T0 - 10, expires_at=T0 + 60))
    await signer.check(who, signing.sign(old, BODY, timestamp=int(clock())), body)
    await signer.check(who, signing.sign(new, BODY, timestamp=int(clock()) + 1), body)
    clock.advance(61)
    assert await reason(signer, who, signing.sign(old, BODY, timestamp=int(clock()))) == "mismatch"


async def test_a_key_that_requires_nothing_is_not_checked_and_its_body_not_read(
    signer: RequestSigning,
) -> None:
    async def unread() -> bytes:
        raise AssertionError("the body was read")

    await signer.check(identity(required=False), None, unread)
    await signer.check(identity(required=False), "t=1,v1=junk", unread)  # no secret: nothing to verify
    await signer.check(Identity("k_admin", "default", admin=True), None, unread)


async def test_a_signature_sent_without_being_required_is_still_verified(
    signer: RequestSigning, clock: Clock
) -> None:
    salt, _ = signer.new_secret()
    who = identity(SigningSalt(salt, T0), required=False)
    assert await reason(signer, who, signing.sign("sysig_wrong", BODY, timestamp=int(clock()))) == "mismatch"


async def test_the_tenant_s_requirement_applies_to_its_keys(
    signer: RequestSigning, store: MemoryKeyStore, clock: Clock
) -> None:
    await store.put_tenant(TenantRecord("acme", require_signature=True))
    assert await reason(signer, identity(required=False), None) == "missing"
    assert await reason(signer, identity(required=False), "t=1,v1=00") == "mismatch"  # no secret set
    await signer.check(identity(required=False, tenant="other"), None, body)


async def test_an_unreadable_tenant_never_seen_refuses_with_503(clock: Clock) -> None:
    class Down(MemoryKeyStore):
        async def get_tenant(self, tenant: str) -> TenantRecord | None:
            raise StateUnavailableError("down")

    signer = RequestSigning(b"m", MemorySeenSignatures(), TenantCache(Down(), clock=clock), clock=clock)
    with pytest.raises(GatewayError) as unavailable:
        await signer.check(identity(required=False), None, body)
    assert unavailable.value.status == 503
