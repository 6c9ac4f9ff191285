"""Explicit maps between the admin and usage wire schemas (``api/``) and the gateway's own
records: request bodies to key and tenant specs, records and reports to response bodies."""

from __future__ import annotations

from decimal import Decimal

from switchyard.api.admin import (
    BudgetRowOut,
    IssuedKeyOut,
    KeyIn,
    KeyOut,
    OverrideOut,
    SigningSecretInfo,
    SigningSecretOut,
    TenantIn,
    TenantOut,
)
from switchyard.api.usage import SavingOut, UsageRowOut
from switchyard.budgets.service import BudgetStatus
from switchyard.keys.virtual import IssuedKey, KeySpec, TenantSpec
from switchyard.state.ports import BudgetOverride, KeyRecord, TenantRecord
from switchyard.usage.report import UsageRow
from switchyard.usage.savings import Saving

_KEY_RESETTABLE = (
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
_TENANT_RESETTABLE = ("name", "budgets", "budget_action", "metadata", "guardrails", "require_signature")


def key_spec(body: KeyIn) -> KeySpec:
    return KeySpec(
        tenant=body.tenant,
        name=body.name,
        models=tuple(body.models) if body.models is not None else None,
        limits=body.limits,
        budgets=body.budgets,
        budget_action=body.budget_action,
        metadata=body.metadata,
        expires_at=body.expires_at,
        guardrails=tuple(body.guardrails) if body.guardrails is not None else None,
        require_signature=body.require_signature,
        reset=body.reset(_KEY_RESETTABLE),
    )


def tenant_spec(body: TenantIn) -> TenantSpec:
    return TenantSpec(
        name=body.name,
        budgets=body.budgets,
        budget_action=body.budget_action,
        metadata=body.metadata,
        guardrails=tuple(body.guardrails) if body.guardrails is not None else None,
        require_signature=body.require_signature,
        reset=body.reset(_TENANT_RESETTABLE),
    )


def key_out(r: KeyRecord) -> KeyOut:
    return KeyOut(
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


def signing_secret_out(r: KeyRecord, secret: str) -> SigningSecretOut:
    key = key_out(r)
    return SigningSecretOut(
        key_id=key.key_id,
        secret=secret,
        require_signature=key.require_signature,
        signing_secrets=key.signing_secrets,
    )


def issued_out(issued: IssuedKey) -> IssuedKeyOut:
    return IssuedKeyOut(key=issued.key, **key_out(issued.record).model_dump())


def tenant_out(r: TenantRecord) -> TenantOut:
    return TenantOut(
        tenant=r.tenant,
        name=r.name,
        created_at=r.created_at,
        budgets=dict(r.budgets),
        budget_action=r.budget_action,
        metadata=dict(r.metadata),
        guardrails=list(r.guardrails),
        require_signature=r.require_signature,
    )


def budget_row_out(r: BudgetStatus) -> BudgetRowOut:
    used = r.spent_usd * 100 / r.budget_usd if r.budget_usd else Decimal(100)
    return BudgetRowOut(
        scope=r.scope,
        id=r.id,
        period=r.period,
        period_key=r.period_key,
        budget_usd=r.budget_usd,
        spent_usd=r.spent_usd,
        percent=used.quantize(Decimal("0.1")),
        action=r.action,
    )


def override_out(o: BudgetOverride | None) -> OverrideOut | None:
    return None if o is None else OverrideOut(action=o.action, reason=o.reason, since=o.since, until=o.until)


def usage_row_out(row: UsageRow) -> UsageRowOut:
    return UsageRowOut(
        group=row.group,
        requests=row.requests,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        errors=row.errors,
        cache_hits=row.cache_hits,
        fallbacks=row.fallbacks,
        cost_usd=row.cost_usd,
        saved_usd=row.saved_usd,
    )


def saving_out(s: Saving) -> SavingOut:
    return SavingOut(
        model=s.model,
        spend_usd=s.spend_usd,
        alternative=s.alternative,
        alternative_cost_usd=s.alternative_cost_usd.quantize(Decimal("0.000001")),
        saving_usd=s.saving_usd.quantize(Decimal("0.000001")),
        share_of_spend=s.share.quantize(Decimal("0.0001")),
    )
