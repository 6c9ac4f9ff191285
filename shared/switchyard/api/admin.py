"""Wire schemas of the admin API (``/admin/keys``, ``/admin/tenants``) and their mapping to the
state records. A key's plaintext appears only in :class:`IssuedKeyOut`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchyard.budgets.service import BudgetStatus
from switchyard.keys.virtual import IssuedKey, KeySpec, TenantSpec
from switchyard.state.ports import BudgetAction, BudgetOverride, BudgetPeriod, KeyRecord, TenantRecord

Usd = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Budgeted(_In):
    """``budgets`` per period; ``budget_usd`` + ``budget_period`` is shorthand for one of them.

    On update every body is a merge patch (``switchyard.keys.patch``): fields left out stay,
    ``null`` resets a field, and ``limits``, ``budgets`` and ``metadata`` merge entry by entry."""

    budgets: dict[BudgetPeriod, Usd | None] | None = Field(
        default=None,
        description="USD cap per period; merged period by period on update (null removes one)",
        examples=[{"daily": "5", "monthly": "100"}],
    )
    budget_action: BudgetAction | None = Field(default=None, description="what happens at 100 %")
    budget_usd: Usd | None = Field(default=None, description="shorthand: one budget of budget_period")
    budget_period: BudgetPeriod | None = Field(default=None, description="the shorthand's period (monthly)")

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

    def _reset(self, fields: tuple[str, ...]) -> frozenset[str]:
        """The fields sent as null: reset to their defaults."""
        return frozenset(f for f in fields if f in self.model_fields_set and getattr(self, f) is None)


class KeyIn(_Budgeted):
    """Create (``tenant`` required) or update: a merge patch, so fields left out stay as they are."""

    tenant: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str | None = Field(default=None, max_length=256)
    models: list[str] | None = Field(default=None, description="allowed public models; empty or null: all")
    limits: dict[str, int | None] | None = Field(
        default=None,
        description="rpm, tpm, rph, tph, rpd, tpd, max_concurrent; merged on update (null removes one)",
        examples=[{"rpm": 60, "tpm": 20000}],
    )
    metadata: dict[str, str | None] | None = Field(default=None, description="merged on update")
    expires_at: float | None = Field(default=None, description="epoch seconds; null: never expires")

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
            reset=self._reset(
                ("name", "models", "limits", "budgets", "budget_action", "metadata", "expires_at")
            ),
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
    budgets: dict[BudgetPeriod, Decimal]
    budget_action: BudgetAction
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
            budgets=dict(r.budgets),
            budget_action=r.budget_action,
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


class TenantIn(_Budgeted):
    """Create or update a tenant: a merge patch, so fields left out stay as they are."""

    name: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str | None] | None = Field(default=None, description="merged on update")

    def spec(self) -> TenantSpec:
        return TenantSpec(
            name=self.name,
            budgets=self.budgets,
            budget_action=self.budget_action,
            metadata=self.metadata,
            reset=self._reset(("name", "budgets", "budget_action", "metadata")),
        )


class TenantOut(BaseModel):
    tenant: str
    name: str
    created_at: float
    budgets: dict[BudgetPeriod, Decimal]
    budget_action: BudgetAction
    metadata: dict[str, str]

    @classmethod
    def of(cls, r: TenantRecord) -> TenantOut:
        return cls(
            tenant=r.tenant,
            name=r.name,
            created_at=r.created_at,
            budgets=dict(r.budgets),
            budget_action=r.budget_action,
            metadata=dict(r.metadata),
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
