"""Virtual keys and tenants: create, update, rotate with a grace period, revoke.

A key is ``sk-sy-`` and 43 url-safe characters (256 random bits); only its sha256 is stored, and its
public id (``k_…``, :func:`switchyard.keys.ids.key_id`) names it everywhere else, so the plaintext
exists once, in the answer to its creation (or rotation). Rotation issues a new key with the same
tenant, models, limits and budget, and gives the old one an expiry ``grace_s`` away: both work
until then, and the store's TTL removes the old one after.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from time import time
from typing import Any

from switchyard.errors import InvalidRequestError, NotFoundError
from switchyard.keys import ids
from switchyard.keys.patch import merge_entries
from switchyard.state.ports import (
    BudgetAction,
    BudgetPeriod,
    KeyRecord,
    KeyStore,
    SigningSalt,
    TenantRecord,
)

PREFIX = "sk-sy-"
LIMIT_NAMES = frozenset({"rpm", "tpm", "rph", "tph", "rpd", "tpd", "max_concurrent"})


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What an operator sets on a key, applied as a merge patch (:mod:`switchyard.keys.patch`):
    None leaves a field as it is, ``reset`` names the fields set back to their defaults, and the
    mappings merge entry by entry (an entry of None removes it)."""

    tenant: str | None = None
    name: str | None = None
    models: tuple[str, ...] | None = None
    limits: Mapping[str, int | None] | None = None
    budgets: Mapping[BudgetPeriod, Decimal | None] | None = None
    budget_action: BudgetAction | None = None
    metadata: Mapping[str, str | None] | None = None
    expires_at: float | None = None
    guardrails: tuple[str, ...] | None = None  # policy names (checked against the config by the caller)
    require_signature: bool | None = None  # True needs a signing secret on the key
    reset: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """What an operator sets on a tenant, applied as :class:`KeySpec` is."""

    name: str | None = None
    budgets: Mapping[BudgetPeriod, Decimal | None] | None = None
    budget_action: BudgetAction | None = None
    metadata: Mapping[str, str | None] | None = None
    guardrails: tuple[str, ...] | None = None  # policies every key of the tenant passes
    require_signature: bool | None = None  # every key of the tenant must sign its POSTs
    reset: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as created or rotated: the only time its plaintext is seen."""

    key: str
    record: KeyRecord


class KeyService:
    def __init__(self, store: KeyStore, *, clock: Callable[[], float] = time) -> None:
        self._store = store
        self._clock = clock

    async def create(self, spec: KeySpec) -> IssuedKey:
        """Raises InvalidRequestError without a tenant, or for an unknown limit name."""
        if not spec.tenant:
            raise InvalidRequestError("a key needs a tenant", param="tenant")
        key = new_key()
        record = KeyRecord(
            key_id=ids.key_id(key), key_hash=ids.key_hash(key), tenant=spec.tenant, created_at=self._clock()
        )
        record = _apply(record, spec)
        if record.require_signature:
            raise InvalidRequestError(
                "a new key has no signing secret: create it, then set one "
                "(POST /admin/keys/{key_id}/signing-secret)",
                param="require_signature",
            )
        if await self._store.get_tenant(spec.tenant) is None:  # a key's tenant always exists
            await self._store.put_tenant(TenantRecord(tenant=spec.tenant, created_at=self._clock()))
        await self._store.put(record)
        return IssuedKey(key, record)

    async def show(self, key_id: str) -> KeyRecord:
        """Raises NotFoundError."""
        record = await self._store.get(key_id)
        if record is None:
            raise NotFoundError(f"no key {key_id!r}")
        return record

    async def update(self, key_id: str, spec: KeySpec) -> KeyRecord:
        """Raises NotFoundError, InvalidRequestError (a key cannot change tenant; a key without a
        signing secret cannot require signatures)."""
        record = await self.show(key_id)
        if spec.tenant is not None and spec.tenant != record.tenant:
            raise InvalidRequestError("a key cannot move to another tenant", param="tenant")
        updated = _apply(record, spec)
        if updated.require_signature and not _live(updated.signing, self._clock()):
            raise InvalidRequestError(
                "a key needs a signing secret before it can require signatures "
                "(POST /admin/keys/{key_id}/signing-secret)",
                param="require_signature",
            )
        await self._store.put(updated)
        return updated

    async def add_signing_salt(self, key_id: str, salt: str, *, grace_s: float, require: bool) -> KeyRecord:
        """Give the key a new signing secret (as its salt); its live secrets keep working for
        ``grace_s`` seconds more. Raises NotFoundError, InvalidRequestError for a revoked key."""
        record = await self.show(key_id)
        if record.status == "revoked":
            raise InvalidRequestError("a revoked key cannot get a signing secret")
        now = self._clock()
        until = now + max(0.0, grace_s)
        kept = tuple(
            replace(s, expires_at=until if s.expires_at is None else min(s.expires_at, until))
            for s in _live(record.signing, now)
            if grace_s > 0
        )
        updated = replace(record, signing=(SigningSalt(salt, now), *kept), require_signature=require)
        await self._store.put(updated)
        return updated

    async def remove_signing(self, key_id: str) -> KeyRecord:
        """Drop every signing secret of the key and its requirement. Raises NotFoundError."""
        updated = replace(await self.show(key_id), signing=(), require_signature=False)
        await self._store.put(updated)
        return updated

    async def rotate(self, key_id: str, grace_s: float) -> IssuedKey:
        """A new key like ``key_id``; the old one keeps working for ``grace_s`` seconds. Raises
        NotFoundError, InvalidRequestError for a revoked key."""
        old = await self.show(key_id)
        if old.status == "revoked":
            raise InvalidRequestError("a revoked key cannot be rotated")
        key = new_key()
        now = self._clock()
        fresh = replace(old, key_id=ids.key_id(key), key_hash=ids.key_hash(key), created_at=now)
        await self._store.put(fresh)
        expiry = now + max(0.0, grace_s)
        if old.expires_at is not None:
            expiry = min(expiry, old.expires_at)
        await self._store.put(replace(old, expires_at=expiry, replaced_by=fresh.key_id))
        return IssuedKey(key, fresh)

    async def revoke(self, key_id: str) -> None:
        """Raises NotFoundError."""
        if not await self._store.revoke(key_id):
            raise NotFoundError(f"no key {key_id!r}")

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        return await self._store.list_keys(tenant)

    async def set_tenant(self, tenant: str, spec: TenantSpec, *, create: bool = True) -> TenantRecord:
        """Create the tenant from ``spec``, or merge ``spec`` into it. Raises NotFoundError for
        an unknown tenant when ``create`` is False."""
        existing = await self._store.get_tenant(tenant)
        if existing is None and not create:
            raise NotFoundError(f"no tenant {tenant!r}")
        current = existing or TenantRecord(tenant=tenant, created_at=self._clock())
        stored = replace(current, **_changes(current, spec, _TENANT_FIELDS, TenantRecord(tenant="")))
        await self._store.put_tenant(stored)
        return stored

    async def tenant(self, tenant: str) -> TenantRecord:
        """Raises NotFoundError."""
        record = await self._store.get_tenant(tenant)
        if record is None:
            raise NotFoundError(f"no tenant {tenant!r}")
        return record

    async def tenants(self) -> list[TenantRecord]:
        return await self._store.list_tenants()


_KEY_FIELDS = (
    "name",
    "models",
    "limits",
    "budgets",
    "budget_action",
    "metadata",
    "expires_at",
    "guardrails",
    "require_signature",
)
_TENANT_FIELDS = ("name", "budgets", "budget_action", "metadata", "guardrails", "require_signature")
_MAPPINGS = frozenset({"limits", "budgets", "metadata"})
_DEFAULT_KEY = KeyRecord(key_id="", key_hash="", tenant="")


def _apply(record: KeyRecord, spec: KeySpec) -> KeyRecord:
    if spec.limits is not None and not set(spec.limits) <= LIMIT_NAMES:
        unknown = ", ".join(sorted(set(spec.limits) - LIMIT_NAMES))
        raise InvalidRequestError(f"unknown limits: {unknown}", param="limits")
    return replace(record, **_changes(record, spec, _KEY_FIELDS, _DEFAULT_KEY))


def _changes(
    current: KeyRecord | TenantRecord, spec: KeySpec | TenantSpec, fields: tuple[str, ...], default: object
) -> dict[str, Any]:
    """The record's new field values: resets first, then the given fields (mappings merged)."""
    changes: dict[str, Any] = {name: getattr(default, name) for name in fields if name in spec.reset}
    for name in fields:
        value = getattr(spec, name)
        if value is None:
            continue
        if name in _MAPPINGS:
            value = merge_entries(changes.get(name, getattr(current, name)), value)
        changes[name] = value
    return changes


def _live(salts: tuple[SigningSalt, ...], now: float) -> tuple[SigningSalt, ...]:
    return tuple(s for s in salts if s.expires_at is None or s.expires_at > now)
