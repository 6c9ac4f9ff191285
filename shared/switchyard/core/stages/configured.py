"""Stages named in the routing config (``pipeline.stages``), put in place among the built-in ones.

A stage class is loaded by import path and made with its ``options`` as keyword arguments; a
class that cannot be found or made, or a stage placed after a stage that does not exist, fails
the cold start with a message naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from switchyard.config.routing import StageRef
from switchyard.core.stage import Stage


def with_configured(builtin: Sequence[Stage], refs: Sequence[StageRef]) -> list[Stage]:
    """``builtin`` with every configured stage inserted after the stage its ``after`` names (or
    at the end). Raises ValueError."""
    stages = list(builtin)
    for ref in refs:
        stage = _make(ref)
        if ref.after is None:
            stages.append(stage)
            continue
        names = [s.name for s in stages]
        if ref.after not in names:
            raise ValueError(f"pipeline stage {ref.use}: no stage named {ref.after!r} to follow ({names})")
        stages.insert(names.index(ref.after) + 1, stage)
    return stages


def _make(ref: StageRef) -> Stage:
    module_name, _, attribute = ref.use.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
        stage: Stage = factory(**ref.options)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"pipeline stage {ref.use}: {exc}") from exc
    if not callable(getattr(stage, "enter", None)) or not isinstance(getattr(stage, "name", None), str):
        raise ValueError(f"pipeline stage {ref.use}: not a stage (needs a name and enter())")
    return stage
