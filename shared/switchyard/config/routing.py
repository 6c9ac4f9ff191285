"""The routing configuration: providers, public models and their deployments, aliases, wildcards.

One YAML file, validated here once per cold start. A deployment whose provider needs a key that is
not configured (no env var and no secret) is dropped at load, so the shipped default config answers
with the mock provider until real keys are set.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchyard.config.guardrails import GuardrailsConfig

ProviderKindName = Literal[
    "openai", "anthropic", "openai_compatible", "azure_openai", "perplexity", "bedrock", "mock"
]
# Provider kinds with an OpenAI-compatible moderations endpoint (guardrails' moderation).
MODERATING_KINDS = frozenset({"openai", "openai_compatible", "azure_openai", "mock"})
Strategy = Literal["priority", "weighted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyRef(_Strict):
    """Where a provider's API key comes from: a Secrets Manager secret, else an env variable."""

    env: str | None = None
    secret: str | None = None
    # An env variable holding the secret's name or ARN (template.yaml passes the ARNs this way).
    secret_env: str | None = None
    # JSON field of the secret holding the key in use (secrets hold primary and backup: docs/keys.md).
    field: str = "primary"


class MockSettings(_Strict):
    """Behaviour of a mock provider, for demos and tests (a request can override it)."""

    latency_ms: float = Field(default=0, ge=0, le=600_000)
    fault: str | None = None  # a fault name of providers.mock.FAULTS, applied to every call
    fault_rate: float = Field(default=1.0, ge=0, le=1)
    content: str | None = None


class ProviderConfig(_Strict):
    kind: ProviderKindName
    base_url: str | None = None
    api_key: KeyRef | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=900)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict)
    # The provider is used only when all of these env variables are set (e.g. OLLAMA_BASE_URL).
    requires_env: list[str] = Field(default_factory=list)
    mock: MockSettings = Field(default_factory=MockSettings)
    # Streams: longest silence between upstream chunks before the stream fails with a timeout.
    # Below API Gateway's 5-minute idle cut, so the client gets an error event, not a silent cut.
    stream_idle_timeout_s: float = Field(default=60.0, gt=0, le=290)
    # Ask OpenAI-dialect upstreams for usage in streams (``stream_options.include_usage``); off
    # for the few compatible servers that reject the option (usage is then estimated).
    stream_usage: bool = True
    # Azure OpenAI: the data-plane ``api-version`` query parameter of every call.
    api_version: str | None = None
    # Amazon Bedrock: the region whose runtime endpoint is called and whose SigV4 scope signs it
    # (checked when the adapter is built: an unset ``${VAR}`` here leaves the provider out first).
    region: str | None = None

    @model_validator(mode="after")
    def _needs_base_url(self) -> Self:
        if self.kind in ("openai_compatible", "azure_openai") and not self.base_url:
            raise ValueError(f"an {self.kind} provider needs base_url")
        if self.kind == "bedrock" and not self.region:
            raise ValueError("a bedrock provider needs region")
        return self


class SearchFees(_Strict):
    """USD per request of a web search model, by the search context size it used (Perplexity
    bills a fee per request on top of tokens: more context retrieved, higher fee)."""

    low: Decimal = Field(ge=0)
    medium: Decimal = Field(ge=0)
    high: Decimal = Field(ge=0)


class Price(_Strict):
    """USD per 1M tokens, and the fees some models add per request or per search query (USD
    each)."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    # Tokens a web search model reports apart from prompt and completion (Perplexity's deep
    # research): sources it read, and its reasoning. Unpriced: free.
    citation: Decimal | None = None
    reasoning: Decimal | None = None
    request: Decimal = Field(default=Decimal(0), ge=0)  # a flat fee per answered request
    search: SearchFees | None = None  # the per-request fee by search context size, on top
    search_query: Decimal = Field(default=Decimal(0), ge=0)  # per search query the answer ran

    def request_fee(self, search_context_size: str | None) -> Decimal:
        """What one answered request costs besides its tokens; a search of unknown size is
        billed as ``low`` (Perplexity's default)."""
        if self.search is None:
            return self.request
        fees = self.search
        by_size = {"medium": fees.medium, "high": fees.high}
        return self.request + by_size.get(search_context_size or "", fees.low)

    @property
    def highest_request_fee(self) -> Decimal:
        """The most one request can owe besides its tokens and search queries (for estimates)."""
        return self.request_fee("high")


class RateLimits(_Strict):
    """Requests and tokens per minute, hour and day, and requests in flight (None: no limit).
    Shared by every instance through the state table (docs/state.md)."""

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    rph: int | None = Field(default=None, ge=1)
    tph: int | None = Field(default=None, ge=1)
    rpd: int | None = Field(default=None, ge=1)
    tpd: int | None = Field(default=None, ge=1)
    max_concurrent: int | None = Field(default=None, ge=1)


class LimitsConfig(_Strict):
    """Client key limits: ``default`` for every key, ``keys`` overrides by key id (``k_…``, derived
    from the key's sha256, never the key); fields an override leaves out come from the default."""

    default: RateLimits = Field(default_factory=RateLimits)
    keys: dict[str, RateLimits] = Field(default_factory=dict)
    # A warm container leases capacity sized by its own demand: what it admitted at its recent
    # rate over this many seconds (at least one request), and hands back what it holds beyond
    # that once a lease is this old; 0: fixed leases of lease_fraction (docs/state.md).
    lease_horizon_s: float = Field(default=30.0, ge=0, le=3600)
    # ... and never more than this share of a limit at a time (fewer DynamoDB calls, and at most
    # this much capacity idle in one container).
    lease_fraction: float = Field(default=0.1, gt=0, le=1)
    # Output tokens assumed for the estimate when a request sets no max_tokens.
    default_output_tokens: int = Field(default=256, ge=0)
    # A container keeps its concurrency slots this long after last taking one, so that a busy
    # container pays no call per request; a request running longer may let others take its slot.
    slot_ttl_s: float = Field(default=300.0, gt=0)


class DeploymentConfig(RateLimits):
    provider: str
    model: str
    id: str | None = None
    weight: float = Field(default=1.0, gt=0)
    context_window: int | None = Field(default=None, gt=0)
    # The most output tokens the upstream model returns: a request asking for more skips this
    # deployment (400 when no candidate allows it: routing.select.within_output_limit).
    max_output_tokens: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0, le=900)
    price: Price | None = None

    @property
    def deployment_id(self) -> str:
        return self.id or f"{self.provider}/{self.model}"


class ModelRoute(_Strict):
    deployments: list[DeploymentConfig] = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list)
    strategy: Strategy | None = None
    guardrails: list[str] = Field(default_factory=list)  # policies of ``guardrails.policies``


class WildcardRoute(_Strict):
    pattern: str  # fnmatch pattern on the public model name, e.g. "gpt-*"
    provider: str


class RetryConfig(_Strict):
    base_delay_s: float = Field(default=0.25, ge=0)
    max_delay_s: float = Field(default=8.0, ge=0)
    # How long a Retry-After from a 429 may be waited for within the deadline before failing over.
    max_retry_after_s: float = Field(default=10.0, ge=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    quota_park_s: float = Field(default=300.0, ge=0)


class BreakerConfig(_Strict):
    failure_threshold: int = Field(default=5, ge=1)
    window_s: float = Field(default=30.0, gt=0)
    cooldown_s: float = Field(default=30.0, gt=0)


BudgetPeriodName = Literal["daily", "weekly", "monthly"]


class BudgetsConfig(_Strict):
    """Spend caps for the whole gateway and how every budget behaves (docs/costs.md).

    Keys and tenants carry budgets of their own (admin API); these settings apply to all of them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    global_: dict[BudgetPeriodName, Decimal] = Field(default_factory=dict, alias="global")
    action: Literal["block", "downgrade"] = "block"  # the global budget's action at 100 %
    thresholds: tuple[int, ...] = (50, 80, 90, 100)  # percent; each sends one event per period
    # At 100 % of a "downgrade" budget, requests for a model go to its cheaper model.
    downgrade: dict[str, str] = Field(default_factory=dict)
    # Output tokens assumed for a request that sets no max_tokens, when reserving its cost.
    estimate_output_tokens: int = Field(default=1024, ge=1, le=1_000_000)
    # Peak requests per second under the global budget, of the busiest tenant under its own, of
    # the busiest key under its own: each request writes its scopes' counters, so a scope expected
    # to take more than shard_writes_per_s writes a second is spread over
    # ceil(rate / shard_writes_per_s) items (docs/scaling.md: the arithmetic; 0 keeps one item).
    expected_rps: float = Field(default=0.0, ge=0, le=1_000_000)
    tenant_expected_rps: float = Field(default=0.0, ge=0, le=1_000_000)
    key_expected_rps: float = Field(default=0.0, ge=0, le=1_000_000)
    # 30 keeps a counter item under 1 KB with its idempotency tokens: one write unit a write.
    shard_writes_per_s: float = Field(default=30.0, gt=0, le=1000)

    def shards(self, rps: float) -> int:
        """Items a scope taking ``rps`` writes a second is spread over (at most 500)."""
        return min(500, max(1, math.ceil(rps / self.shard_writes_per_s)))

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < t <= 100 for t in v):
            raise ValueError("thresholds are percentages in (0, 100]")
        return tuple(sorted(set(v)))

    @field_validator("global_")
    @classmethod
    def _positive(cls, v: dict[BudgetPeriodName, Decimal]) -> dict[BudgetPeriodName, Decimal]:
        if any(cap < 0 for cap in v.values()):
            raise ValueError("a budget is at least 0")
        return v


class MemoryConfig(_Strict):
    """Conversation memory (``x-switchyard-conversation``); a persona may override each field.

    When the remembered turns (and the summary) pass ``max_tokens``, the oldest turns are dropped,
    or folded into a summary by ``summary_model``, until they take at most ``compact_to`` of it.
    """

    enabled: bool = True
    max_tokens: int = Field(default=4000, ge=16, le=1_000_000)
    compact_to: float = Field(default=0.5, gt=0, le=1)
    ttl_s: int = Field(default=7 * 86400, ge=60, le=366 * 86400)
    overflow: Literal["drop", "summarize"] = "drop"
    summary_model: str | None = None  # a cheap model; needed when something summarizes
    summary_max_tokens: int = Field(default=400, ge=16, le=16_000)

    @model_validator(mode="after")
    def _summary_model(self) -> Self:
        if self.overflow == "summarize" and not self.summary_model:
            raise ValueError("memory.overflow 'summarize' needs memory.summary_model")
        return self


class LastResortRule(_Strict):
    """When every candidate has failed: answer with the cached answer up to ``stale_if_error_s``
    past its TTL, else with ``template``. Both off by default."""

    stale_if_error_s: int = Field(default=0, ge=0, le=30 * 86400)
    template: str | None = Field(default=None, min_length=1, max_length=32_000)


class LastResortConfig(_Strict):
    default: LastResortRule = Field(default_factory=LastResortRule)
    models: dict[str, LastResortRule] = Field(default_factory=dict)  # by public model name

    def rule_for(self, model: str) -> LastResortRule:
        return self.models.get(model, self.default)

    @property
    def max_stale_s(self) -> int:
        """How long past its TTL the cache must keep an entry for the longest stale rule."""
        return max([self.default.stale_if_error_s, *(r.stale_if_error_s for r in self.models.values())])


class StageRef(_Strict):
    """A stage of the request pipeline that is not built in: a class named by import path
    (``package.module:ClassName``), made with ``options`` as keyword arguments, placed after the
    built-in stage named by ``after`` (default: last, right before the provider is called)."""

    use: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    options: dict[str, Any] = Field(default_factory=dict)
    after: str | None = None


class PipelineConfig(_Strict):
    stages: list[StageRef] = Field(default_factory=list)


class RoutingConfig(_Strict):
    version: Literal[1] = 1
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelRoute] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    wildcards: list[WildcardRoute] = Field(default_factory=list)
    strategy: Strategy = "priority"
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    last_resort: LastResortConfig = Field(default_factory=LastResortConfig)
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)

    @field_validator("providers")
    @classmethod
    def _some_provider(cls, v: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        if not v:
            raise ValueError("at least one provider is needed")
        return v

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problem = next(self._unresolved(), None)
        if problem is not None:
            raise ValueError(problem)
        return self

    def _unresolved(self) -> Iterator[str]:
        """Every name the config uses that it does not define."""
        routable = self.models.keys() | self.aliases.keys()
        for name, route in self.models.items():
            for dep in route.deployments:
                if dep.provider not in self.providers:
                    yield f"model {name!r}: unknown provider {dep.provider!r}"
            yield from (
                f"model {name!r}: unknown fallback {fb!r}" for fb in route.fallbacks if fb not in routable
            )
        for alias, target in self.aliases.items():
            if target not in self.models:
                yield f"alias {alias!r}: unknown model {target!r}"
        for wc in self.wildcards:
            if wc.provider not in self.providers:
                yield f"wildcard {wc.pattern!r}: unknown provider {wc.provider!r}"
        for source, target in self.budgets.downgrade.items():
            if target not in routable:
                yield f"budgets.downgrade {source!r}: unknown model {target!r}"
        yield from self._unresolved_features(routable)
        yield from self._unresolved_guardrails()

    def _unresolved_features(self, routable: set[str]) -> Iterator[str]:
        summary = self.memory.summary_model
        if summary is not None and summary not in routable and self.wildcard_provider(summary) is None:
            yield f"memory.summary_model: unknown model {summary!r}"
        for model in self.last_resort.models:
            if model not in routable and self.wildcard_provider(model) is None:
                yield f"last_resort.models: unknown model {model!r}"
        if "persona" in self.providers:
            yield "provider name 'persona' is reserved: models named persona/<name> are personas"

    def _unresolved_guardrails(self) -> Iterator[str]:
        policies = self.guardrails.policies
        named = [("guardrails.default", n) for n in self.guardrails.default] + [
            (f"model {model!r}", n) for model, route in self.models.items() for n in route.guardrails
        ]
        yield from (f"{where}: unknown guardrail policy {n!r}" for where, n in named if n not in policies)
        for name, policy in policies.items():
            if policy.moderation is not None:
                yield from self._unmoderating(name, policy.moderation.model)

    def _unmoderating(self, policy: str, model: str) -> Iterator[str]:
        """Problems with a policy's moderation model: it must route to providers that moderate."""
        route = self.models.get(self.aliases.get(model, model))
        if route is None:
            yield f"guardrail policy {policy!r}: unknown moderation model {model!r}"
            return
        for dep in route.deployments:
            provider = self.providers.get(dep.provider)
            if provider is not None and provider.kind not in MODERATING_KINDS:
                yield (
                    f"guardrail policy {policy!r}: provider {dep.provider!r} ({provider.kind}) "
                    "cannot moderate"
                )

    def wildcard_provider(self, public_model: str) -> str | None:
        for wc in self.wildcards:
            if fnmatch.fnmatchcase(public_model, wc.pattern):
                return wc.provider
        return None


def provider_available(cfg: ProviderConfig, environment: dict[str, str]) -> bool:
    """A provider is usable when it needs no key, or its key has a source we can read."""
    if not all(environment.get(name) for name in cfg.requires_env):
        return False
    if cfg.kind == "mock" or cfg.api_key is None:
        return True
    return bool(cfg.api_key.secret) or bool(cfg.api_key.env and environment.get(cfg.api_key.env))


MOCK_STANDIN = "mock-standin"


def load_routing_config(
    path: Path, environment: dict[str, str], *, mock_unconfigured: bool = False
) -> RoutingConfig:
    """Parse and validate the YAML at ``path``, expanding ``${VAR}`` from ``environment``.

    Deployments (and wildcards) of providers that have no key configured are dropped; with
    ``mock_unconfigured`` (the local runtime without keys) they are served by a mock stand-in
    instead, so ``gpt-4o-mini`` still answers on a fresh machine and says ``x-switchyard-provider:
    mock-standin``.
    """
    config = _parsed(path, environment)
    if mock_unconfigured:
        config = _with_mock_standins(config, environment)
    return _without_unavailable(config, environment)


@dataclass(frozen=True)
class StandIn:
    """A provider the mock stands in for (``mock_unconfigured``): its name, the upstream models
    it would have served, and the environment variables that would configure it."""

    provider: str
    models: tuple[str, ...]
    needs: tuple[str, ...]


def mock_standins(path: Path, environment: dict[str, str]) -> list[StandIn]:
    """The providers of the config at ``path`` that ``load_routing_config(mock_unconfigured=True)``
    replaces with the mock stand-in, in config order."""
    config = _parsed(path, environment)
    standins = []
    for name, provider in config.providers.items():
        if provider.kind == "mock" or provider_available(provider, environment):
            continue
        deployments = [d for route in config.models.values() for d in route.deployments]
        models = {d.model for d in deployments if d.provider == name}
        models |= {w.pattern for w in config.wildcards if w.provider == name}
        if not models:
            continue
        key = provider.api_key
        needs = [*provider.requires_env, *([key.env] if key is not None and key.env else [])]
        standins.append(StandIn(name, tuple(sorted(models)), tuple(needs)))
    return standins


def _parsed(path: Path, environment: dict[str, str]) -> RoutingConfig:
    raw: Any = yaml.safe_load(_expand(path.read_text(encoding="utf-8"), environment))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the routing config must be a mapping")
    return _with_secret_names(RoutingConfig.model_validate(raw), environment)


def _with_secret_names(config: RoutingConfig, environment: dict[str, str]) -> RoutingConfig:
    providers = dict(config.providers)
    for name, p in config.providers.items():
        ref = p.api_key
        if ref and ref.secret_env and not ref.secret and environment.get(ref.secret_env):
            key = ref.model_copy(update={"secret": environment[ref.secret_env]})
            providers[name] = p.model_copy(update={"api_key": key})
    return config.model_copy(update={"providers": providers})


def _with_mock_standins(config: RoutingConfig, environment: dict[str, str]) -> RoutingConfig:
    usable = {n for n, p in config.providers.items() if provider_available(p, environment)}
    providers = dict(config.providers)
    providers[MOCK_STANDIN] = ProviderConfig(kind="mock")
    models = {
        name: route.model_copy(
            update={
                "deployments": [
                    d
                    if d.provider in usable
                    # The id keeps the provider it stands in for: "mock-standin/openai/gpt-4o-mini".
                    else d.model_copy(
                        update={"provider": MOCK_STANDIN, "id": f"{MOCK_STANDIN}/{d.deployment_id}"}
                    )
                    for d in route.deployments
                ]
            }
        )
        for name, route in config.models.items()
    }
    wildcards = [
        w if w.provider in usable else w.model_copy(update={"provider": MOCK_STANDIN})
        for w in config.wildcards
    ]
    return config.model_copy(update={"providers": providers, "models": models, "wildcards": wildcards})


def _expand(text: str, environment: dict[str, str]) -> str:
    for key, value in environment.items():
        text = text.replace("${" + key + "}", value)
    return text


def _without_unavailable(config: RoutingConfig, environment: dict[str, str]) -> RoutingConfig:
    usable = {n for n, p in config.providers.items() if provider_available(p, environment)}
    models: dict[str, ModelRoute] = {}
    for name, route in config.models.items():
        deps = [d for d in route.deployments if d.provider in usable]
        if deps:
            models[name] = route.model_copy(update={"deployments": deps})
    fallbacks_ok = {
        name: route.model_copy(
            update={"fallbacks": [f for f in route.fallbacks if config.aliases.get(f, f) in models]}
        )
        for name, route in models.items()
    }
    return config.model_copy(
        update={
            "providers": {n: p for n, p in config.providers.items() if n in usable},
            "models": fallbacks_ok,
            "aliases": {a: t for a, t in config.aliases.items() if t in models},
            "wildcards": [w for w in config.wildcards if w.provider in usable],
        }
    )
