"""Wire schemas of the admin API (``/admin/keys``, ``/admin/tenants``, ``/admin/budgets``). A key's
plaintext appears only in :class:`IssuedKeyOut`. The mapping to and from the gateway's records is
in :mod:`switchyard.http.admin_views`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

type BudgetPeriod = Literal["daily", "weekly", "monthly"]
type BudgetAction = Literal["block", "downgrade"]

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

    def reset(self, fields: tuple[str, ...]) -> frozenset[str]:
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
    guardrails: list[str] | None = Field(default=None, description="guardrail policies of the routing config")
    require_signature: bool | None = Field(
        default=None, description="refuse unsigned POSTs (needs a signing secret: /signing-secret)"
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


class IssuedKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as its sha256")


class KeyList(BaseModel):
    data: list[KeyOut]


class SigningSecretOut(BaseModel):
    key_id: str
    secret: str = Field(description="the signing secret: shown this once, stored only as a salt")
    require_signature: bool
    signing_secrets: list[SigningSecretInfo]
    header: str = "x-switchyard-signature"
    window_s: int = 300


class TenantIn(_Budgeted):
    """Create or update a tenant: a merge patch, so fields left out stay as they are."""

    name: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str | None] | None = Field(default=None, description="merged on update")
    guardrails: list[str] | None = Field(default=None, description="policies for every key of the tenant")
    require_signature: bool | None = Field(default=None, description="every key must sign its POSTs")


class TenantOut(BaseModel):
    tenant: str
    name: str
    created_at: float
    budgets: dict[BudgetPeriod, Decimal]
    budget_action: BudgetAction
    metadata: dict[str, str]
    guardrails: list[str]
    require_signature: bool


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


class OverrideOut(BaseModel):
    action: BudgetAction
    reason: str
    since: float
    until: float | None


class BudgetReport(BaseModel):
    override: OverrideOut | None
    data: list[BudgetRowOut]
