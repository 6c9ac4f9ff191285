"""The built-in stages, in the order the pipeline runs them (docs/architecture.md)."""

from switchyard.core.stages.access import AccessStage
from switchyard.core.stages.budgets import BudgetStage
from switchyard.core.stages.cache import CacheStage
from switchyard.core.stages.guardrails import GuardrailOutputStage, GuardrailStage
from switchyard.core.stages.limits import KeyLimitsStage
from switchyard.core.stages.usage import UsageStage

__all__ = [
    "AccessStage",
    "BudgetStage",
    "CacheStage",
    "GuardrailOutputStage",
    "GuardrailStage",
    "KeyLimitsStage",
    "UsageStage",
]
