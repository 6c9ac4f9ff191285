"""``/admin/keys``, ``/admin/tenants`` and ``/admin/budgets``: virtual keys, tenants and what
their budgets have spent, for the master key only.

Changes made here drop this container's cached lookup at once; other warm containers see them
within the key cache TTL (``key_cache_ttl_s``, at most 60 s).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from switchyard.api.admin import (
    BudgetReport,
    IssuedKeyOut,
    KeyIn,
    KeyList,
    KeyOut,
    RotateIn,
    SigningSecretIn,
    SigningSecretOut,
    TenantIn,
    TenantList,
    TenantOut,
)
from switchyard.budgets.service import Scope
from switchyard.errors import InvalidRequestError
from switchyard.http.admin_views import (
    budget_row_out,
    issued_out,
    key_out,
    key_spec,
    override_out,
    signing_secret_out,
    tenant_out,
    tenant_spec,
)
from switchyard.http.deps import gateway_of, require_admin_key, router_settings
from switchyard.keys.virtual import KeyService

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin_key)], tags=["admin"])


def key_service(request: Request) -> KeyService:
    return KeyService(gateway_of(request).state.keys, clock=gateway_of(request).auth.wall)


def known_guardrails(request: Request, names: list[str] | None) -> None:
    """Raises InvalidRequestError naming a policy the routing config does not define."""
    unknown = gateway_of(request).guardrails.unknown(names or ())
    if unknown:
        raise InvalidRequestError(f"unknown guardrail policy {unknown[0]!r}", param="guardrails")


@router.post("/keys", status_code=201)
async def create_key(body: KeyIn, request: Request) -> IssuedKeyOut:
    known_guardrails(request, body.guardrails)
    return issued_out(await key_service(request).create(key_spec(body)))


@router.get("/keys")
async def list_keys(request: Request, tenant: str = Query(min_length=1)) -> KeyList:
    return KeyList(data=[key_out(r) for r in await key_service(request).list_keys(tenant)])


@router.get("/keys/{key_id}")
async def show_key(key_id: str, request: Request) -> KeyOut:
    return key_out(await key_service(request).show(key_id))


@router.patch("/keys/{key_id}")
async def update_key(key_id: str, body: KeyIn, request: Request) -> KeyOut:
    known_guardrails(request, body.guardrails)
    record = await key_service(request).update(key_id, key_spec(body))
    gateway_of(request).auth.forget(key_id)
    return key_out(record)


@router.post("/keys/{key_id}/rotate", status_code=201)
async def rotate_key(key_id: str, request: Request, body: RotateIn | None = None) -> IssuedKeyOut:
    gateway = gateway_of(request)
    grace = body.grace_s if body is not None and body.grace_s is not None else None
    grace_s = router_settings(request).key_rotation_grace_s if grace is None else grace
    issued = await key_service(request).rotate(key_id, grace_s)
    gateway.auth.forget(key_id)
    return issued_out(issued)


@router.post("/keys/{key_id}/signing-secret", status_code=201)
async def set_signing_secret(
    key_id: str, request: Request, body: SigningSecretIn | None = None
) -> SigningSecretOut:
    """A new request-signing secret for the key (shown once); its earlier ones keep working for
    the grace period. With ``require`` (the default) its unsigned POSTs are refused from now on."""
    gateway = gateway_of(request)
    body = body or SigningSecretIn()
    grace_s = router_settings(request).key_rotation_grace_s if body.grace_s is None else body.grace_s
    salt, secret = gateway.signing.new_secret()
    record = await key_service(request).add_signing_salt(key_id, salt, grace_s=grace_s, require=body.require)
    gateway.auth.forget(key_id)
    return signing_secret_out(record, secret)


@router.delete("/keys/{key_id}/signing-secret", status_code=204)
async def remove_signing_secret(key_id: str, request: Request) -> Response:
    """The key's signing secrets and its requirement go: its requests need no signature (unless
    its tenant requires them)."""
    await key_service(request).remove_signing(key_id)
    gateway_of(request).auth.forget(key_id)
    return Response(status_code=204)


@router.post("/keys/{key_id}/revoke", status_code=204)
@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: str, request: Request) -> Response:
    await key_service(request).revoke(key_id)
    gateway_of(request).auth.forget(key_id)
    return Response(status_code=204)


@router.put("/tenants/{tenant}")
async def put_tenant(tenant: str, body: TenantIn, request: Request) -> TenantOut:
    """Create the tenant, or update it: fields left out stay as they are."""
    known_guardrails(request, body.guardrails)
    record = await key_service(request).set_tenant(tenant, tenant_spec(body))
    gateway_of(request).tenants.forget(tenant)
    return tenant_out(record)


@router.patch("/tenants/{tenant}")
async def update_tenant(tenant: str, body: TenantIn, request: Request) -> TenantOut:
    known_guardrails(request, body.guardrails)
    record = await key_service(request).set_tenant(tenant, tenant_spec(body), create=False)
    gateway_of(request).tenants.forget(tenant)
    return tenant_out(record)


@router.get("/tenants")
async def list_tenants(request: Request) -> TenantList:
    return TenantList(data=[tenant_out(t) for t in await key_service(request).tenants()])


@router.get("/tenants/{tenant}")
async def show_tenant(tenant: str, request: Request) -> TenantOut:
    return tenant_out(await key_service(request).tenant(tenant))


@router.get("/budgets")
async def budgets(request: Request, tenant: str | None = None) -> BudgetReport:
    """The global budget, every tenant's (or one tenant's and its keys'), with this period's spend."""
    gateway = gateway_of(request)
    service = gateway.budgets
    keys = key_service(request)
    scopes: list[Scope] = []
    whole = service.global_scope()
    if whole is not None:
        scopes.append(whole)
    tenants = [await keys.tenant(tenant)] if tenant else await keys.tenants()
    scopes += [Scope.tenant(t) for t in tenants if t.budgets]
    if tenant:
        records = await keys.list_keys(tenant)
        scopes += [Scope.key(k.key_id, k.budgets, k.budget_action) for k in records if k.budgets]
    rows = await service.status(scopes)
    return BudgetReport(
        override=override_out(await service.override()), data=[budget_row_out(r) for r in rows]
    )
