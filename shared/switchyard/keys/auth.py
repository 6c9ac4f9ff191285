"""Client authentication: the master (admin) key, or a virtual key looked up through a warm cache.

A warm container answers most lookups from memory: a record is trusted for ``ttl_s`` (at most
60 s, the documented bound on how long a revoked key keeps working in a container that had
seen it), an unknown key for a few seconds (so a stream of bad keys costs few reads). When the
store cannot be reached, a cached record is used past its TTL (auth degrades, never breaks,
docs/state.md) and a key never seen is refused with 503.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from time import monotonic, time

from pydantic import SecretStr

from switchyard.config.routing import RateLimits
from switchyard.errors import AuthenticationError, GatewayError, PermissionDeniedError
from switchyard.keys.ids import key_hash, key_id
from switchyard.keys.master_key import MasterKey
from switchyard.keys.virtual import PREFIX
from switchyard.state.ports import (
    BudgetAction,
    BudgetPeriod,
    KeyRecord,
    KeyStore,
    SigningSalt,
    StateUnavailableError,
)
from switchyard.state.warm import WarmCache

MAX_TTL_S = 60.0
_NEGATIVE_TTL_S = 5.0
MASTER_TENANT = "default"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is from. ``models`` empty: every model; ``limits`` None: the config's."""

    key_id: str
    tenant: str
    admin: bool = False
    models: frozenset[str] = frozenset()
    limits: RateLimits | None = None
    budgets: Mapping[BudgetPeriod, Decimal] = field(default_factory=dict)
    budget_action: BudgetAction = "block"
    guardrails: tuple[str, ...] = ()  # the key's guardrail policies (its tenant's come on top)
    signing: tuple[SigningSalt, ...] = ()  # the key's request-signing secrets, as salts
    require_signature: bool = False  # the key's own requirement (its tenant may add one)

    def check_model(self, model: str) -> None:
        """Raises PermissionDeniedError when this key may not use ``model``."""
        if self.models and model not in self.models:
            raise PermissionDeniedError(f"This API key may not use the model {model!r}.", param="model")


def identity_of(record: KeyRecord) -> Identity:
    limits = RateLimits.model_validate(dict(record.limits)) if record.limits else None
    return Identity(
        record.key_id,
        record.tenant,
        models=frozenset(record.models),
        limits=limits,
        budgets=record.budgets,
        budget_action=record.budget_action,
        guardrails=record.guardrails,
        signing=record.signing,
        require_signature=record.require_signature,
    )


class ClientAuth:
    def __init__(
        self,
        master_key: SecretStr | MasterKey,
        store: KeyStore,
        *,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = monotonic,
        wall: Callable[[], float] = time,
    ) -> None:
        # A MasterKey read from its secret is read again on its TTL (keys/master_key.py).
        self._master = master_key if isinstance(master_key, MasterKey) else MasterKey(master_key)
        self._records = WarmCache[str, KeyRecord](
            store.get, what="key", ttl_s=min(ttl_s, MAX_TTL_S), negative_ttl_s=_NEGATIVE_TTL_S, clock=clock
        )
        self.wall = wall  # expiry checks; also the admin API's clock
        # The identity of each key last authenticated with the record it was built from: built
        # once per lookup of the record, not per request (None: the master key's, from no record).
        self._identities: dict[str, tuple[KeyRecord | None, Identity]] = {}

    @property
    def _master_id(self) -> str:
        return self._master.id

    async def _current_master_id(self) -> str:
        """The master key's id, its secret read again first when the TTL has passed (the worker
        looks keys up by id only, and must see a replaced master key too)."""
        await self._master.current()
        return self._master.id

    async def is_admin(self, key: str | None) -> bool:
        """Whether ``key`` is the master key (as last read from its secret, within its TTL)."""
        return key is not None and hmac.compare_digest(key.encode(), await self._master.current())

    def _admin(self) -> Identity:
        cached = self._identities.get(self._master_id)
        if cached is None:
            cached = self._identities[self._master_id] = (
                None,
                Identity(self._master_id, MASTER_TENANT, admin=True),
            )
        return cached[1]

    async def authenticate(self, key: str | None) -> Identity:
        """Raises AuthenticationError (missing, unknown, revoked or expired key), GatewayError 503
        when a key not seen before cannot be looked up. Messages never echo the key."""
        if key is None:
            raise AuthenticationError(
                "Missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`.",
                code="missing_api_key",
            )
        if await self.is_admin(key):
            return self._admin()
        if not key.startswith(PREFIX):
            raise AuthenticationError("Invalid API key.")
        record = await self._record(key_id(key))
        if record is None or not hmac.compare_digest(record.key_hash, key_hash(key)):
            raise AuthenticationError("Invalid API key.")
        if record.status == "revoked":
            raise AuthenticationError("This API key has been revoked.", code="revoked_api_key")
        if self._expired(record):
            raise AuthenticationError("This API key has expired.", code="expired_api_key")
        return self._identity(record)

    async def tenant_by_id(self, kid: str) -> str | None:
        """The tenant of a key known only by its id, revoked keys included (their jobs still have
        an owner); None when unknown or expired. Raises GatewayError 503 like ``authenticate``."""
        if kid == await self._current_master_id():
            return MASTER_TENANT
        record = await self._record(kid)
        if record is None or self._expired(record):
            return None
        return record.tenant

    async def identity_by_id(self, kid: str) -> Identity | None:
        """The identity of an active key known only by its id (the jobs worker: a queued job names
        its key), through the same warm cache; None when unknown, revoked or expired. Raises
        GatewayError 503 like ``authenticate``."""
        if kid == await self._current_master_id():
            return self._admin()
        record = await self._record(kid)
        if record is None or record.status == "revoked" or self._expired(record):
            return None
        return self._identity(record)

    def _expired(self, record: KeyRecord) -> bool:
        return record.expires_at is not None and record.expires_at <= self.wall()

    def _identity(self, record: KeyRecord) -> Identity:
        """Built once per lookup of the record, not per request: a fresh read is a new record."""
        cached = self._identities.get(record.key_id)
        if cached is None or cached[0] is not record:
            cached = self._identities[record.key_id] = (record, identity_of(record))
        return cached[1]

    def identity(self, key_id: str) -> Identity | None:
        """The identity a key was last authenticated as (for the gate: models and limits)."""
        cached = self._identities.get(key_id)
        return cached[1] if cached is not None else None

    def forget(self, key_id: str) -> None:
        """Drop a cached lookup (this container changed the key: no need to wait for the TTL)."""
        self._records.forget(key_id)
        self._identities.pop(key_id, None)

    async def _record(self, kid: str) -> KeyRecord | None:
        try:
            return await self._records.get(kid)
        except StateUnavailableError as exc:
            raise GatewayError(
                "Keys cannot be checked right now.", status=503, retry_after=5, code="keys_unavailable"
            ) from exc
