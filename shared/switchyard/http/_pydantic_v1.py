"""Keep FastAPI from importing ``pydantic.v1`` (~35 ms of CPU on a full core, ~0.25 s at a 256 MB
Lambda's share) only to find out that the app's models are not pydantic v1 models.

FastAPI 0.165 asks "is this a pydantic.v1 model?" for every route's response model and every
value it encodes, and answers by importing ``pydantic.v1`` to compare against its ``BaseModel``.
An object can only be a v1 model if ``pydantic.v1`` was imported by whoever defined it, so asking
``sys.modules`` gives the same answer without the import. This is a private FastAPI API, patched
in this one module; ``tests/unit/test_pydantic_v1_patch.py`` fails when FastAPI changes it.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import encoders
from fastapi._compat import shared

_ORIGINAL_CLASS = shared.is_pydantic_v1_model_class
_ORIGINAL_INSTANCE = shared.is_pydantic_v1_model_instance


def is_v1_model_class(cls: Any) -> bool:
    v1 = sys.modules.get("pydantic.v1")
    return v1 is not None and shared.lenient_issubclass(cls, v1.BaseModel)


def is_v1_model_instance(obj: Any) -> bool:
    v1 = sys.modules.get("pydantic.v1")
    return v1 is not None and isinstance(obj, v1.BaseModel)


def install() -> None:
    """Idempotent. Must run before any route is declared (``switchyard.http`` runs it on import)."""
    shared.is_pydantic_v1_model_class = is_v1_model_class
    shared.is_pydantic_v1_model_instance = is_v1_model_instance
    # Imported there by name (and not re-exported, hence the setattr).
    setattr(encoders, "is_pydantic_v1_model_instance", is_v1_model_instance)  # noqa: B010
