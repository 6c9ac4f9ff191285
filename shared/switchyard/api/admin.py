"""Wire schemas of the admin API (``/admin/keys``, ``/admin/tenants``) and their mapping to the
state records. A key's plaintext appears only in :class:`IssuedKeyOut`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from switchyard.keys.virtual import IssuedKey, KeySpec
from switchyard.state.ports import KeyRecord, TenantRecord

Period = Literal["daily", "weekly", "monthly"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyIn(_In):
    """Create (``tenant`` required) or update (fields left out stay as they are)."""

    tenant: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str | None = Field(default=None, max_length=256)
    models: list[str] | None = None
    limits: dict[str, int] | None = None
    budget_usd: Decimal | None = Field(default=None, ge=0)
    budget_period: Period | None = None
    metadata: dict[str, str] | None = None
    expires_at: float | None = Field(default=None, description="epoch seconds")

    def spec(self) -> KeySpec:
        return KeySpec(
            tenant=self.tenant,
            name=self.name,
            models=tuple(self.models) if self.models is not None else None,
            limits=self.limits,
            budget_usd=self.budget_usd,
            budget_period=self.budget_period,
            metadata=self.metadata,
            expires_at=self.expires_at,
        )


class RotateIn(_In):
    grace_s: float | None = Field(default=None, ge=0, le=30 * 86400)


class KeyOut(BaseModel):
    key_id: str
    tenant: str
    name: str
    status: str
    created_at: float
    expires_at: float | None
    models: list[str]
    limits: dict[str, int]
    budget_usd: Decimal | None
    budget_period: Period
    metadata: dict[str, str]
    replaced_by: str | None

    @classmethod
    def of(cls, r: KeyRecord) -> KeyOut:
        return cls(
            key_id=r.key_id,
            tenant=r.tenant,
            name=r.name,
            status=r.status,
            created_at=r.created_at,
            expires_at=r.expires_at,
            models=list(r.models),
            limits=dict(r.limits),
            budget_usd=r.budget_usd,
            budget_period=r.budget_period,
            metadata=dict(r.metadata),
            replaced_by=r.replaced_by,
        )


class IssuedKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as its sha256")

    @classmethod
    def issued(cls, issued: IssuedKey) -> IssuedKeyOut:
        return cls(key=issued.key, **KeyOut.of(issued.record).model_dump())


class KeyList(BaseModel):
    data: list[KeyOut]


class TenantIn(_In):
    name: str = Field(default="", max_length=256)
    budget_usd: Decimal | None = Field(default=None, ge=0)
    budget_period: Period = "monthly"
    metadata: dict[str, str] = Field(default_factory=dict)

    def record(self, tenant: str) -> TenantRecord:
        return TenantRecord(
            tenant=tenant,
            name=self.name,
            budget_usd=self.budget_usd,
            budget_period=self.budget_period,
            metadata=self.metadata,
        )


class TenantOut(BaseModel):
    tenant: str
    name: str
    created_at: float
    budget_usd: Decimal | None
    budget_period: Period
    metadata: dict[str, str]

    @classmethod
    def of(cls, r: TenantRecord) -> TenantOut:
        return cls(
            tenant=r.tenant,
            name=r.name,
            created_at=r.created_at,
            budget_usd=r.budget_usd,
            budget_period=r.budget_period,
            metadata=dict(r.metadata),
        )


class TenantList(BaseModel):
    data: list[TenantOut]
