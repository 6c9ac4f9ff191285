"""Model listing and health routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from switchyard.api.chat import ModelCard, ModelList
from switchyard.errors import NotFoundError, StateUnavailableError
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.keys.auth import Identity
from switchyard.observability import logger
from switchyard.personas import MODEL_PREFIX
from switchyard.routing.catalog import model_card, visible_models

models_router = APIRouter(dependencies=[Depends(require_client_key)])
health_router = APIRouter()


@models_router.get("/v1/models")
@models_router.get("/models", include_in_schema=False)
async def list_models(request: Request) -> ModelList:
    """The models the calling key may use, and its tenant's published personas
    (``persona/<name>``) it may use."""
    identity: Identity = request.state.identity
    models = visible_models(gateway_of(request).table, identity.models)
    return ModelList(data=[*models, *await _personas(request, identity)])


@models_router.get("/v1/models/{model:path}")
@models_router.get("/models/{model:path}", include_in_schema=False)
async def show_model(request: Request, model: str) -> ModelCard:
    """One model, if the calling key may use it (404 ``model_not_found`` otherwise)."""
    identity: Identity = request.state.identity
    if model.startswith(MODEL_PREFIX):
        for card in await _personas(request, identity):
            if card.id == model:
                return card
        raise NotFoundError(
            f"The model `{model}` does not exist or you do not have access to it.", param="model"
        )
    return model_card(gateway_of(request).table, identity.models, model)


async def _personas(request: Request, identity: Identity) -> list[ModelCard]:
    """The tenant's published personas as models, those the key may use."""
    try:
        personas = await gateway_of(request).personas.list_personas(identity.tenant)
    except StateUnavailableError as exc:  # the models still answer; the personas can wait
        logger.warning("personas unavailable for /v1/models", extra={"error": str(exc)})
        return []
    names = [MODEL_PREFIX + p.name for p in personas if p.published]
    return [ModelCard(id=n, owned_by="persona") for n in names if not identity.models or n in identity.models]


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
