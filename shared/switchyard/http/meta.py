"""Model listing and health routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from switchyard.api.chat import ModelCard, ModelList
from switchyard.errors import StateUnavailableError
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.observability import logger
from switchyard.personas import MODEL_PREFIX

models_router = APIRouter(dependencies=[Depends(require_client_key)])
health_router = APIRouter()


@models_router.get("/v1/models")
@models_router.get("/models", include_in_schema=False)
async def list_models(request: Request) -> ModelList:
    """The public models, and the caller's tenant's published personas (``persona/<name>``)."""
    gateway = gateway_of(request)
    try:
        personas = await gateway.personas.list_personas(request.state.identity.tenant)
    except StateUnavailableError as exc:  # the models still answer; the personas can wait
        logger.warning("personas unavailable for /v1/models", extra={"error": str(exc)})
        personas = []
    published = [MODEL_PREFIX + p.name for p in personas if p.published]
    return ModelList(data=[ModelCard(id=name) for name in [*gateway.table.public_models, *published]])


@health_router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Also the Lambda Web Adapter's readiness probe."""
    return {"status": "ok"}


@health_router.get("/health/ready")
async def ready(request: Request) -> dict[str, Any]:
    """Readiness: configuration loaded, which providers are configured, breaker summary."""
    gateway = gateway_of(request)
    breakers = await gateway.breakers.summary()
    return {
        "status": "ready",
        "providers": {name: p.kind for name, p in gateway.config.providers.items()},
        "models": len(gateway.table.public_models),
        "breakers": {
            "open": sorted(d for d, s in breakers.items() if s == "open"),
            "half_open": sorted(d for d, s in breakers.items() if s == "half_open"),
            "parked": sorted(d for d, s in breakers.items() if s == "parked"),
        },
        # Backend, components degraded to memory, AWS calls and event counters of this instance.
        "state": {**gateway.state.summary(), "counters": gateway.metrics.totals()},
    }
