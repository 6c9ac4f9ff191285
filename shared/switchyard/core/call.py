"""One request on its way through the pipeline, and the answers it can get.

A :class:`Call` is made by an entry point (an HTTP route, the jobs worker) from the caller's
request in the canonical (OpenAI chat) shape. Stages read and rewrite it on the way in; whatever
answers it (the cache, a provider, a stage of its own) is an :class:`Answer`, or for a streamed
request a :class:`Streamed` answer (:mod:`switchyard.core.streamed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter

from switchyard.accounting import UsageRecord, format_usd
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.keys.auth import MASTER_TENANT, Identity


@dataclass(frozen=True, slots=True)
class ServedBy:
    """Who answered: the ``x-switchyard-provider/-model/-deployment/-attempts`` headers."""

    provider: str
    model: str  # the upstream model
    deployment_id: str
    attempts: int  # upstream calls made (0: answered without one)

    def headers(self) -> dict[str, str]:
        return {
            "x-switchyard-provider": self.provider,
            "x-switchyard-model": self.model,
            "x-switchyard-deployment": self.deployment_id,
            "x-switchyard-attempts": str(self.attempts),
        }


@dataclass(slots=True)
class Answer:
    """A buffered answer: the canonical (OpenAI) JSON body and who served it. ``record`` is its
    priced usage when the gateway accounts it (an upstream answer, a cache hit)."""

    body: bytes
    served_by: ServedBy
    record: UsageRecord | None = None
    completion: ChatCompletion | None = None  # parsed, when it was (else parsed on demand)

    def parsed(self) -> ChatCompletion:
        if self.completion is None:
            self.completion = ChatCompletion.model_validate_json(self.body)
        return self.completion


@dataclass(slots=True)
class Call:
    """One request through the pipeline.

    ``request`` is what will be routed: stages may replace it (a budget's downgrade, a persona's
    prompt); ``asked_model`` stays the model the caller named (usage and refusals are filed
    under it). ``answer`` is set by a stage that answers the request itself (a cache hit), and
    then no provider is called. ``headers`` are the answer headers the stages add
    (``x-switchyard-cache``, ``x-ratelimit-*``, ``x-switchyard-budget``). ``guardrails`` names
    policies an earlier stage attaches (a persona's).
    """

    request: ChatRequest
    key_id: str
    request_id: str
    identity: Identity | None = None  # None: an unknown caller (tests, the bare core)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    asked_model: str = ""
    answer: Answer | None = None
    headers: dict[str, str] = field(default_factory=dict)
    record: UsageRecord | None = None  # what the answer used and cost, once it is accounted
    started: float = field(default_factory=perf_counter)
    # Guardrail policies (by name) the call must pass besides its model's, tenant's and key's: a
    # stage before the guardrails adds to it (a persona's policy); the guardrail stage then sets
    # it to every policy the call passes (core/stages/guardrails.py).
    guardrails: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.asked_model:
            self.asked_model = self.request.model

    @property
    def tenant(self) -> str:
        return self.identity.tenant if self.identity is not None else MASTER_TENANT

    @property
    def streamed(self) -> bool:
        return bool(self.request.stream)


def answer_headers(call: Call, served_by: ServedBy) -> dict[str, str]:
    """Every header of an answer: who served it, its cost (and for a hit, what it saved), and
    what the stages added."""
    headers = served_by.headers()
    record = call.record
    if record is not None:
        headers["x-switchyard-cost-usd"] = format_usd(record.cost_usd)
        if record.cache_hit:
            headers["x-switchyard-cost-saved-usd"] = format_usd(record.saved_usd)
    return {**headers, **call.headers}
