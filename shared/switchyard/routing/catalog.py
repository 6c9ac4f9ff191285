"""Which models a client key sees: ``GET /v1/models`` and ``GET /v1/models/{id}``.

A key with an allowed-models list sees only those of its models the gateway can route (a name a
wildcard or ``provider/model`` resolves is listed too, since the key may use it); a key without
one sees every configured model and alias. A model the key may not use is answered as one that
does not exist (404), as OpenAI does, so a restricted key learns nothing of the others.
"""

from __future__ import annotations

from collections.abc import Set

from switchyard.api.chat import ModelCard
from switchyard.errors import NotFoundError
from switchyard.routing.select import RouteTable


def visible_models(table: RouteTable, allowed: Set[str]) -> list[ModelCard]:
    """The cards of the models a key with ``allowed`` (empty: every model) may use, by name."""
    names = sorted(name for name in allowed if table.knows(name)) if allowed else table.public_models
    return [_card(table, name) for name in names]


def model_card(table: RouteTable, allowed: Set[str], model: str) -> ModelCard:
    """Raises NotFoundError (404 ``model_not_found``) for a model the gateway cannot route or the
    key may not use."""
    if (allowed and model not in allowed) or not table.knows(model):
        raise NotFoundError(
            f"The model `{model}` does not exist or you do not have access to it.", param="model"
        )
    return _card(table, model)


def _card(table: RouteTable, model: str) -> ModelCard:
    return ModelCard(id=model, owned_by=table.first_provider(model))
