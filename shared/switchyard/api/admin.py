"""Wire schemas of the admin API (``/admin/keys``, ``/admin/tenants``) and their mapping to the
state records. A key's plaintext appears only in :class:`IssuedKeyOut`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchyard.budgets.service import BudgetStatus
from switchyard.keys.virtual import IssuedKey, KeySpec
from switchyard.state.ports import (
    BudgetAction,
    BudgetOverride,
    BudgetPeriod,
    KeyRecord,
    SigningSalt,
    TenantRecord,
)

Usd = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Budgeted(_In):
    """``budgets`` per period; ``budget_usd`` + ``budget_period`` is shorthand for one of them."""

    budgets: dict[BudgetPeriod, Usd] | None = None
    budget_action: BudgetAction | None = None
    budget_usd: Usd | None = None
    budget_period: BudgetPeriod | None = None

    @model_validator(mode="after")
    def _shorthand(self) -> Self:
        if self.budget_usd is None:
            if self.budget_period is not None:
                raise ValueError("budget_period needs budget_usd")
            return self
        if self.budgets is not None:
            raise ValueError("give either budgets or budget_usd, not both")
        self.budgets = {self.budget_period or "monthly": self.budget_usd}
        return self


class KeyIn(_Budgeted):
    """Create (``tenant`` required) or update (fields left out stay as they are)."""

    tenant: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str | None = Field(default=None, max_length=256)
    models: list[str] | None = None
    limits: dict[str, int] | None = None
    metadata: dict[str, str] | None = None
    expires_at: float | None = Field(default=None, description="epoch seconds")
    guardrails: list[str] | None = Field(default=None, description="guardrail policies of the routing config")
    require_signature: bool | None = Field(
        default=None, description="refuse unsigned POSTs (needs a signing secret: /signing-secret)"
    )

    def spec(self) -> KeySpec:
        return KeySpec(
            tenant=self.tenant,
            name=self.name,
            models=tuple(self.models) if self.models is not None else None,
            limits=self.limits,
            budgets=self.budgets,
            budget_action=self.budget_action,
            metadata=self.metadata,
            expires_at=self.expires_at,
            guardrails=tuple(self.guardrails) if self.guardrails is not None else None,
            require_signature=self.require_signature,
        )


class RotateIn(_In):
    grace_s: float | None = Field(default=None, ge=0, le=30 * 86400)


class SigningSecretIn(_In):
    """A new signing secret for a key; the ones it had keep working for ``grace_s`` seconds
    (default: the key rotation grace; 0 ends them now, e.g. after a leak)."""

    grace_s: float | None = Field(default=None, ge=0, le=30 * 86400)
    require: bool = Field(default=True, description="refuse unsigned POSTs from now on")


class SigningSecretInfo(BaseModel):
    """One signing secret of a key, without the secret: when it was set, when it stops working."""

    created_at: float
    expires_at: float | None

    @classmethod
    def of(cls, salt: SigningSalt) -> SigningSecretInfo:
        return cls(created_at=salt.created_at, expires_at=salt.expires_at)


class KeyOut(BaseModel):
    key_id: str
    tenant: str
    name: str
    status: str
    created_at: float
    expires_at: float | None
    models: list[str]
    limits: dict[str, int]
    budgets: dict[BudgetPeriod, Decimal]
    budget_action: BudgetAction
    metadata: dict[str, str]
    replaced_by: str | None
    guardrails: list[str]
    require_signature: bool
    signing_secrets: list[SigningSecretInfo]

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
            budgets=dict(r.budgets),
            budget_action=r.budget_action,
            metadata=dict(r.metadata),
            replaced_by=r.replaced_by,
            guardrails=list(r.guardrails),
            require_signature=r.require_signature,
            signing_secrets=[
                SigningSecretInfo(created_at=s.created_at, expires_at=s.expires_at) for s in r.signing
            ],
        )


class IssuedKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as its sha256")

    @classmethod
    def issued(cls, issued: IssuedKey) -> IssuedKeyOut:
        return cls(key=issued.key, **KeyOut.of(issued.record).model_dump())


class KeyList(BaseModel):
    data: list[KeyOut]


class SigningSecretOut(BaseModel):
    key_id: str
    secret: str = Field(description="the signing secret: shown this once, stored only as a salt")
    require_signature: bool
    signing_secrets: list[SigningSecretInfo]
    header: str = "x-switchyard-signature"
    window_s: int = 300

    @classmethod
    def issued(cls, record: KeyRecord, secret: str) -> SigningSecretOut:
        key = KeyOut.of(record)
        return cls(
            key_id=key.key_id,
            secret=secret,
            require_signature=key.require_signature,
            signing_secrets=key.signing_secrets,
        )


class TenantIn(_Budgeted):
    """A tenant's settings. ``guardrails`` and ``require_signature`` left out stay as they are:
    a PUT that only changes a budget never drops a safety setting."""

    name: str = Field(default="", max_length=256)
    metadata: dict[str, str] = Field(default_factory=dict)
    guardrails: list[str] | None = Field(default=None, description="policies for every key of the tenant")
    require_signature: bool | None = Field(default=None, description="every key must sign its POSTs")

    def record(self, tenant: str) -> TenantRecord:
        return TenantRecord(
            tenant=tenant,
            name=self.name,
            budgets=self.budgets or {},
            budget_action=self.budget_action or "block",
            metadata=self.metadata,
            guardrails=tuple(self.guardrails or ()),
            require_signature=bool(self.require_signature),
        )

    def kept(self) -> frozenset[str]:
        """The record's fields this body leaves as they are."""
        return frozenset(n for n in ("guardrails", "require_signature") if getattr(self, n) is None)


class TenantOut(BaseModel):
    tenant: str
    name: str
    created_at: float
    budgets: dict[BudgetPeriod, Decimal]
    budget_action: BudgetAction
    metadata: dict[str, str]
    guardrails: list[str]
    require_signature: bool

    @classmethod
    def of(cls, r: TenantRecord) -> TenantOut:
        return cls(
            tenant=r.tenant,
            name=r.name,
            created_at=r.created_at,
            budgets=dict(r.budgets),
            budget_action=r.budget_action,
            metadata=dict(r.metadata),
            guardrails=list(r.guardrails),
            require_signature=r.require_signature,
        )


class TenantList(BaseModel):
    data: list[TenantOut]


class BudgetRowOut(BaseModel):
    scope: str
    id: str
    period: BudgetPeriod
    period_key: str
    budget_usd: Decimal
    spent_usd: Decimal
    percent: Decimal
    action: BudgetAction

    @classmethod
    def of(cls, r: BudgetStatus) -> BudgetRowOut:
        used = r.spent_usd * 100 / r.budget_usd if r.budget_usd else Decimal(100)
        return cls(
            scope=r.scope,
            id=r.id,
            period=r.period,
            period_key=r.period_key,
            budget_usd=r.budget_usd,
            spent_usd=r.spent_usd,
            percent=used.quantize(Decimal("0.1")),
            action=r.action,
        )


class OverrideOut(BaseModel):
    action: BudgetAction
    reason: str
    since: float
    until: float | None

    @classmethod
    def of(cls, o: BudgetOverride | None) -> OverrideOut | None:
        return None if o is None else cls(action=o.action, reason=o.reason, since=o.since, until=o.until)


class BudgetReport(BaseModel):
    override: OverrideOut | None
    data: list[BudgetRowOut]
