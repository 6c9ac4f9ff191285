"""Signed requests at the edge: a key (or its tenant) may require every POST to carry
``x-switchyard-signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (the scheme of
:mod:`switchyard.signing`, which clients use to make it).

The secret must be known to verify an HMAC, so it cannot be stored hashed as keys are; it is
not stored at all. A key record holds only a random salt per secret, and the secret is derived
from it under the gateway's signing master secret (Secrets Manager)::

    secret = "sysig_" + hex(HMAC-SHA256(master, "request-signing\\n" + salt))

A read of the table alone yields no secret; rotating a key's secret is a new salt (the old one
may keep working for a grace period); rotating the master secret changes every key's secret.
The secret is shown once, when it is set.

Checks, in order: a signature is present (when required), parses, is within ``window_s`` of the
gateway's clock either way, matches one of the key's live secrets (constant-time), and has not
been seen before (a conditional write of the signature with a TTL, :mod:`state.signatures`).
A signature is recorded only once it has been verified, so unsigned junk writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from time import time

from switchyard import signing
from switchyard.errors import SignatureError
from switchyard.keys.auth import Identity
from switchyard.keys.tenants import TenantCache
from switchyard.state.ports import SigningSalt
from switchyard.state.signatures import SeenSignatures

SECRET_PREFIX = "sysig_"  # noqa: S105 (what a secret starts with)
_LABEL = b"request-signing\n"


class RequestSigning:
    def __init__(
        self,
        master: bytes,
        seen: SeenSignatures,
        tenants: TenantCache,
        *,
        window_s: float = signing.WINDOW_S,
        clock: Callable[[], float] = time,
    ) -> None:
        self._master = master
        self._seen = seen
        self._tenants = tenants
        self._window_s = window_s
        self._clock = clock

    def secret(self, salt: str) -> str:
        """The signing secret a salt stands for."""
        return SECRET_PREFIX + hmac.new(self._master, _LABEL + salt.encode(), hashlib.sha256).hexdigest()

    def new_secret(self) -> tuple[str, str]:
        """A fresh (salt, secret) pair: the salt is stored, the secret shown once."""
        salt = secrets.token_hex(16)
        return salt, self.secret(salt)

    async def required(self, identity: Identity) -> bool:
        """Whether the key, or its tenant, requires signed requests. Raises GatewayError 503 when
        the tenant cannot be read (and was never seen)."""
        if identity.admin:
            return False
        if identity.require_signature:
            return True
        tenant = await self._tenants.get(identity.tenant)
        return tenant is not None and tenant.require_signature

    async def check(
        self, identity: Identity, header: str | None, body: Callable[[], Awaitable[bytes]]
    ) -> None:
        """Raises SignatureError (missing, malformed, expired, mismatch, replayed) for a request
        that must be signed and is not, or whose signature does not verify; GatewayError 503 as
        :meth:`required` does. The body is read only when a signature is checked."""
        required = await self.required(identity)
        live = self._live(identity.signing)
        if header is None:
            if required:
                raise SignatureError("missing", f"this key requires the {signing.HEADER} header.")
            return
        if not live:
            if required:
                raise SignatureError("mismatch", "this key has no signing secret; an admin must set one.")
            return  # signing is not set up for the key: the header means nothing
        await self._verify(identity.key_id, header, await body(), live)

    async def _verify(self, key_id: str, header: str, body: bytes, live: list[SigningSalt]) -> None:
        try:
            timestamp, candidates = signing.parse(header)
        except ValueError:
            raise SignatureError("malformed", "expected t=<unix time>,v1=<hex>.") from None
        if abs(self._clock() - timestamp) > self._window_s:
            raise SignatureError(
                "expired", f"t is more than {int(self._window_s)} s from the gateway's clock."
            )
        matched = next((c for c in candidates if self._matches(c, body, timestamp, live)), None)
        if matched is None:
            raise SignatureError("mismatch", "v1 is not the HMAC-SHA256 of t.body under the key's secret.")
        expires_at = timestamp + self._window_s
        if not await self._seen.first_seen(key_id, matched.lower(), expires_at=expires_at):
            raise SignatureError("replayed", "this signature has been used before; sign each request anew.")

    def _matches(self, candidate: str, body: bytes, timestamp: int, live: list[SigningSalt]) -> bool:
        found = False
        for salt in live:  # every secret compared, in constant time each
            expected = signing.signature(self.secret(salt.salt), body, timestamp)
            found |= hmac.compare_digest(expected.encode(), candidate.lower().encode())
        return found

    def _live(self, salts: tuple[SigningSalt, ...]) -> list[SigningSalt]:
        now = self._clock()
        return [s for s in salts if s.expires_at is None or s.expires_at > now]
