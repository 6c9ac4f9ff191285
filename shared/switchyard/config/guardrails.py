"""Guardrail policies in the routing config (``guardrails:``), validated at cold start.

A policy is named and made of up to four parts, each optional: ``pii`` (detect personal data and
secrets; redact, block or log each kind), ``blocklist`` (words, phrases, regular expressions),
``shape`` (size and shape of the request) and ``moderation`` (a provider's moderation endpoint).
Policies are attached by name to models (``models.<name>.guardrails``), tenants and keys (admin
API), personas, and to every request (``guardrails.default``); docs/guardrails.md has examples.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PiiEntity = Literal["email", "phone", "credit_card", "iban", "ssn", "ip_address", "secret"]
PiiAction = Literal["redact", "block", "log"]
Direction = Literal["input", "output"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

POLICY_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiConfig(_Strict):
    """What to do with each kind of personal data or secret found. ``redact`` replaces it with a
    typed placeholder (``[EMAIL_1]``) before the provider sees it; with ``restore`` the caller's
    answer gets the original values back wherever the model repeated a placeholder."""

    entities: dict[PiiEntity, PiiAction] = Field(min_length=1)
    restore: bool = False
    # Where to look: the request (input), the answer (output: redacted there for good).
    apply_to: tuple[Direction, ...] = ("input",)


class BlocklistConfig(_Strict):
    """Words (whole words), phrases (any whitespace between their words) and regular expressions;
    any match blocks. ``max_pattern_chars`` bounds what a pattern may match: on a stream that
    much of the answer is held back before it is sent, so a match never reaches the client."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    case_sensitive: bool = False
    apply_to: tuple[Direction, ...] = ("input", "output")
    max_pattern_chars: int = Field(default=256, ge=1, le=4096)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns[{index}] is not a regular expression: {exc}") from exc
        return patterns

    @field_validator("words", "phrases")
    @classmethod
    def _not_blank(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        if any(not term.strip() for term in terms):
            raise ValueError("a blocklist term cannot be blank")
        return terms


class ShapeConfig(_Strict):
    """Limits on the request itself (input only): its estimated prompt tokens (four characters a
    token), its number of messages, roles it may not use and tools it may not offer."""

    max_prompt_tokens: int | None = Field(default=None, ge=1)
    max_messages: int | None = Field(default=None, ge=1)
    forbidden_roles: tuple[Role, ...] = ()
    forbidden_tools: tuple[str, ...] = ()


class ModerationConfig(_Strict):
    """A moderation endpoint (OpenAI-compatible ``/v1/moderations``) reached through ``model``, a
    model of the routing config: its deployments are tried in order with the same retries,
    breakers and failover as any request, within ``timeout_s``. When none answers, ``on_error``
    decides: ``closed`` refuses the request (503), ``open`` lets it through (logged, counted).

    A result blocks when it is flagged in one of ``categories`` (empty: any flagged category),
    or when a category's score reaches ``threshold``."""

    model: str
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    on_error: Literal["open", "closed"] = "closed"
    categories: tuple[str, ...] = ()
    threshold: float | None = Field(default=None, gt=0, le=1)
    # Output moderation holds a streamed answer back until it is complete.
    apply_to: tuple[Direction, ...] = ("input",)


class GuardrailPolicy(_Strict):
    description: str = ""
    pii: PiiConfig | None = None
    blocklist: BlocklistConfig | None = None
    shape: ShapeConfig | None = None
    moderation: ModerationConfig | None = None


class GuardrailsConfig(_Strict):
    policies: dict[str, GuardrailPolicy] = Field(default_factory=dict)
    # Policies every request passes, before those of its model, tenant, key and persona.
    default: tuple[str, ...] = ()

    @field_validator("policies")
    @classmethod
    def _names(cls, policies: dict[str, GuardrailPolicy]) -> dict[str, GuardrailPolicy]:
        for name in policies:
            if not re.match(POLICY_NAME, name):
                raise ValueError(f"guardrail policy name {name!r}: use letters, digits, '_', '.', '-'")
        return policies
