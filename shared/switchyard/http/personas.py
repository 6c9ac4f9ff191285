"""``/admin/personas``: a tenant's personas, for the master key only.

Changes made here drop this container's copy at once; other warm containers see them within the
persona cache TTL (``persona_cache_ttl_s``, default 30 s).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from switchyard.api.personas import PersonaIn, PersonaList, PersonaOut
from switchyard.compose.gateway import Gateway
from switchyard.errors import InvalidRequestError, NotFoundError
from switchyard.http.deps import gateway_of, require_admin_key
from switchyard.personas import problems
from switchyard.personas.select import NAME_PATTERN
from switchyard.personas.wire import out_of, record_of

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin_key)], tags=["admin"])

Tenant = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.put("/personas/{tenant}/{name}")
async def put_persona(tenant: Tenant, name: Name, body: PersonaIn, request: Request) -> PersonaOut:
    """Create or replace the persona (whole)."""
    gateway = gateway_of(request)
    personas = gateway.personas
    existing = await personas.store.get(tenant, name)
    record = record_of(
        body, tenant, name, now=gateway.auth.wall(), created_at=existing.created_at if existing else None
    )
    found = problems(record, _known_model(gateway), gateway.config.memory)
    found += [
        f"guardrail policy {name!r} is not configured"
        for name in gateway.guardrails.unknown(record.guardrails)
    ]
    if found:
        raise InvalidRequestError(f"Invalid persona: {'; '.join(found)}.", code="invalid_persona")
    await personas.put(record)
    return out_of(record)


@router.get("/personas")
async def list_personas(request: Request, tenant: str = Query(min_length=1, max_length=128)) -> PersonaList:
    records = await gateway_of(request).personas.list_personas(tenant)
    return PersonaList(data=[out_of(r) for r in records])


@router.get("/personas/{tenant}/{name}")
async def show_persona(tenant: Tenant, name: Name, request: Request) -> PersonaOut:
    record = await gateway_of(request).personas.store.get(tenant, name)
    if record is None:
        raise _not_found(tenant, name)
    return out_of(record)


@router.delete("/personas/{tenant}/{name}", status_code=204)
async def delete_persona(tenant: Tenant, name: Name, request: Request) -> Response:
    if not await gateway_of(request).personas.delete(tenant, name):
        raise _not_found(tenant, name)
    return Response(status_code=204)


def _not_found(tenant: str, name: str) -> NotFoundError:
    return NotFoundError(f"The tenant {tenant!r} has no persona {name!r}.", code="persona_not_found")


def _known_model(gateway: Gateway) -> Callable[[str], bool]:
    rng = random.Random(0)

    def known(model: str) -> bool:
        try:
            gateway.table.candidates(model, rng)
        except NotFoundError:
            return False
        return True

    return known
