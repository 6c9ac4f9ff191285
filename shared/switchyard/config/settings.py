"""Settings, read from the environment once per cold start, one model per kind of function.

This package is the only code that reads ``os.environ``; everything else receives a settings
object (tests construct one directly). Each model is composed of the parts (one per concern) its
function needs, and names the environment variable of each field it reads (``ENV``):

- :class:`RouterSettings` — the router (the HTTP API); :class:`WorkerSettings` — the jobs worker.
  Both are a :class:`GatewaySettings`: what the gateway they share is built from.
- :class:`BudgetFunctionSettings`, :class:`RotationSettings` — the budget and rotation functions.
- The local runtime (``make run``) and the CLI have models of their own (:mod:`switchyard.config.local`),
  so nothing that only they use is visible to code that runs in Lambda.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")

# Environment variables the shipped routing config reads provider keys and URLs from (the local
# runtime's banner lists which are set).
PROVIDER_KEY_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "XAI_API_KEY",
    "PERPLEXITY_API_KEY",
    "GROQ_API_KEY",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_ACCOUNT_ID",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "SWITCHYARD_BEDROCK_REGION",
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
)


class _FromEnv(BaseModel):
    """A settings part: its fields and the environment variable each is read from."""

    model_config = ConfigDict(frozen=True)
    # Environment variable -> field; unset or empty keeps the field's default.
    ENV: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Raises pydantic's ValidationError naming the field of a malformed value."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for part in reversed(cls.__mro__):
            for name, field in vars(part).get("ENV", {}).items():
                if env.get(name) and field in cls.model_fields:
                    values[field] = env[name]
        return cls.model_validate(cls._adjust(values, env))

    @classmethod
    def _adjust(cls, values: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        """What a part reads beyond one variable per field (overridden by parts that need it)."""
        return values


class AwsParts(_FromEnv):
    """Where the function runs: region, a local emulator's endpoint, its name in Lambda, and what
    its logs and metrics are published as."""

    ENV: ClassVar[Mapping[str, str]] = {
        "AWS_DEFAULT_REGION": "aws_region",
        "AWS_REGION": "aws_region",
        "SWITCHYARD_AWS_ENDPOINT_URL": "aws_endpoint_url",
        "AWS_LAMBDA_FUNCTION_NAME": "lambda_function_name",
        "POWERTOOLS_SERVICE_NAME": "service_name",
        "LOG_LEVEL": "log_level",
        "POWERTOOLS_LOG_LEVEL": "log_level",
        "POWERTOOLS_METRICS_NAMESPACE": "metrics_namespace",
    }

    aws_region: str = "us-east-1"
    # Only for a local emulation (moto on 127.0.0.1); None means the region's real endpoint.
    aws_endpoint_url: str | None = None
    # Set by Lambda in every function: there, what would fall back to memory elsewhere (state,
    # events, the jobs queue) must be configured instead, or the cold start fails naming it.
    lambda_function_name: str | None = None
    service_name: str = "switchyard"
    log_level: str = "INFO"
    metrics_namespace: str = "Switchyard"


class RoutingParts(_FromEnv):
    """The routing config, prices, and the environment the config's ``${VAR}`` and key references
    are read from."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_CONFIG": "config_path",
        "SWITCHYARD_PRICES": "prices_path",
        "SWITCHYARD_MOCK_UNCONFIGURED": "mock_unconfigured",
        "SWITCHYARD_SECRETS_MAX_AGE_S": "secrets_max_age_s",
    }

    config_path: Path = DEFAULT_CONFIG
    # A price table (config/prices.yaml's shape) whose entries override the shipped ones.
    prices_path: Path | None = None
    # The process environment, for ``${VAR}`` expansion and ``api_key.env`` / ``secret_env`` in the
    # routing config. Kept out of repr: it holds provider keys.
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    # Serve unconfigured providers' models with the mock (None: unset, the local runtime says yes).
    mock_unconfigured: bool | None = None
    # How long a provider key read from Secrets Manager is trusted before it is read again.
    secrets_max_age_s: int = Field(default=300, ge=0)

    @classmethod
    def _adjust(cls, values: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
        values = super()._adjust(values, env)
        values["environment"] = {k: v for k, v in env.items() if v}
        return values


class StateParts(_FromEnv):
    """Shared state on DynamoDB: DynamoDB when a table is named (Lambda names both), else memory
    (tests, ``make run`` with ``SWITCHYARD_LOCAL_STATE=memory``)."""

    ENV: ClassVar[Mapping[str, str]] = {
        "STATE_TABLE": "state_table",
        "CACHE_TABLE": "cache_table",
        "SWITCHYARD_STATE_TIMEOUT_S": "state_timeout_s",
        "SWITCHYARD_STATE_REFRESH_S": "state_refresh_s",
        "SWITCHYARD_STATE_RETRY_S": "state_retry_s",
        "SWITCHYARD_LIMITS_FAIL_CLOSED": "limits_fail_closed",
        "SWITCHYARD_BUDGETS_FAIL_CLOSED": "budgets_fail_closed",
    }

    state_table: str | None = None
    cache_table: str | None = None
    # Every DynamoDB call: connect and read timeout each, and attempts in botocore's standard mode.
    state_timeout_s: float = Field(default=1.0, gt=0, le=30)
    state_max_attempts: int = Field(default=2, ge=1, le=10)
    # How stale a warm container's copy of a breaker may get before it is read again.
    state_refresh_s: float = Field(default=2.0, ge=0)
    # After a failed state call, how long the in-memory fallback serves before DynamoDB is retried.
    state_retry_s: float = Field(default=5.0, ge=0)
    degraded_log_interval_s: float = Field(default=60.0, gt=0)
    # DynamoDB down: admit on per-instance limits (False) or refuse with 503 (True).
    limits_fail_closed: bool = False
    # Budget state down or throttled: admit uncounted (False) or refuse with 503 (True).
    budgets_fail_closed: bool = False


class EventParts(_FromEnv):
    ENV: ClassVar[Mapping[str, str]] = {"SWITCHYARD_EVENT_BUS": "event_bus_name"}

    # EventBridge bus for operational events (key rejected/rotated, budget thresholds); None: kept
    # in memory (tests, a local run), and a start-up error in Lambda.
    event_bus_name: str | None = None


class KeyParts(_FromEnv):
    """The master (admin) key and how long keys are trusted from a warm cache."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_MASTER_KEY": "master_key",
        "SWITCHYARD_MASTER_KEY_SECRET": "master_key_secret",
        "SWITCHYARD_MASTER_KEY_TTL_S": "master_key_ttl_s",
        "SWITCHYARD_KEY_CACHE_TTL_S": "key_cache_ttl_s",
        "SWITCHYARD_SIGNING_SECRET": "signing_secret",
        "SWITCHYARD_SIGNING_SECRET_NAME": "signing_secret_name",
    }

    master_key: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding the master key (JSON {"key": ...} or plain).
    master_key_secret: str | None = None
    # How long a container trusts the master key read from its secret: the bound on how long a
    # replaced (revoked) master key keeps working. Not used for SWITCHYARD_MASTER_KEY.
    master_key_ttl_s: float = Field(default=60.0, ge=0, le=3600)
    # How long a warm container trusts a virtual key lookup: the bound on how long a revoked key
    # keeps working (docs/keys.md).
    key_cache_ttl_s: float = Field(default=30.0, ge=0, le=60)
    # Signed requests (docs/signing.md): keys' signing secrets are derived from this master secret
    # (or from the webhook master secret, under a label of their own, when this is not set).
    signing_secret: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding it (JSON {"key": ...} or plain).
    signing_secret_name: str | None = None


class ServingParts(_FromEnv):
    """The request path: its deadline, the cache, budgets', usage's and personas' warm state,
    conversation memory's failure mode."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_REQUEST_TIMEOUT_S": "request_timeout_s",
        "SWITCHYARD_CACHE": "cache_enabled",
        "SWITCHYARD_CACHE_TTL_S": "cache_ttl_s",
        "SWITCHYARD_CACHE_PURGE_REFRESH_S": "cache_purge_refresh_s",
        "SWITCHYARD_CACHE_STALE_KEEP_S": "cache_stale_keep_s",
        "SWITCHYARD_BUDGET_CACHE_TTL_S": "budget_cache_ttl_s",
        "SWITCHYARD_USAGE_FLUSH_S": "usage_flush_s",
        "SWITCHYARD_PERSONA_CACHE_TTL_S": "persona_cache_ttl_s",
        "SWITCHYARD_MEMORY_FAIL_CLOSED": "memory_fail_closed",
    }

    # Cap on the whole attempt loop; each upstream call gets what is left of it.
    request_timeout_s: float = Field(default=120.0, gt=0)
    cache_enabled: bool = True
    cache_ttl_s: int = Field(default=3600, ge=1, le=30 * 86400)
    # How long a container trusts its copy of the cache's purge markers: the bound on how long a
    # purge takes to reach every container (docs/state.md). One GetItem per period, on a hit: at a
    # request every 2 s per instance (docs/scaling.md) 30 s adds ~0.07 calls to a cache hit's 1.1.
    cache_purge_refresh_s: float = Field(default=30.0, ge=0, le=300)
    # How long cache entries are kept past their TTL for stale-if-error answers (the last
    # resort): at least the routing config's longest last_resort rule; raise it for personas
    # whose own rule asks for longer.
    cache_stale_keep_s: int = Field(default=0, ge=0, le=30 * 86400)
    # How long a container trusts its copy of a persona: the bound on how long an edited or
    # deleted persona keeps its old form in containers that had read it (docs/personas.md).
    persona_cache_ttl_s: float = Field(default=30.0, ge=0, le=300)
    # Conversation memory unreachable: answer without it (False: x-switchyard-memory: unavailable)
    # or refuse with 503 (True).
    memory_fail_closed: bool = False
    # How long a container trusts its copy of a tenant's budgets and of the global budget override
    # (two reads per period: at 2 s a request, 60 s keeps them ~0.07 a request).
    budget_cache_ttl_s: float = Field(default=60.0, ge=0, le=300)
    # How long a container sums usage in memory before writing the aggregates (written at shutdown
    # too): the usage API lags by up to this much.
    usage_flush_s: float = Field(default=30.0, ge=0, le=300)


class JobParts(_FromEnv):
    """Async jobs (docs/jobs.md): the queue, how long records live, how long a worker's claim
    holds, the largest batch one POST /v1/jobs takes, and webhook signing and targets."""

    ENV: ClassVar[Mapping[str, str]] = {
        "JOBS_QUEUE_URL": "jobs_queue_url",
        "SWITCHYARD_JOB_TTL_S": "job_ttl_s",
        "SWITCHYARD_JOB_LEASE_S": "job_lease_s",
        "SWITCHYARD_JOBS_MAX_BATCH": "jobs_max_batch",
        "SWITCHYARD_WEBHOOK_SECRET": "webhook_secret",
        "SWITCHYARD_WEBHOOK_SECRET_NAME": "webhook_secret_name",
        "SWITCHYARD_WEBHOOK_ALLOW": "webhook_allow",
    }

    # None: an in-process queue (tests, a memory-state local run), and a start-up error in Lambda.
    jobs_queue_url: str | None = None
    job_ttl_s: int = Field(default=7 * 86400, ge=60)
    job_lease_s: float = Field(default=900.0, gt=0)
    jobs_max_batch: int = Field(default=100, ge=1, le=1000)
    # Per-tenant signing secrets are derived from this one (None: a random one per process, so
    # signatures cannot be verified: set it).
    webhook_secret: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding it (JSON {"key": ...} or plain).
    webhook_secret_name: str | None = None
    # Targets allowed despite the SSRF guard (IP networks such as 10.0.0.0/8, or exact host names).
    webhook_allow: tuple[str, ...] = ()

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value


class StateAccess(AwsParts, StateParts):
    """What reaching the state table takes (the gateway, the budget function)."""


class GatewaySettings(StateAccess, RoutingParts, EventParts, KeyParts, ServingParts, JobParts):
    """What the gateway of the router and of the worker is built from."""


class RouterSettings(GatewaySettings):
    """The router: the gateway, and what only its HTTP API uses."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_MAX_BODY_BYTES": "max_body_bytes",
        "SWITCHYARD_KEY_ROTATION_GRACE_S": "key_rotation_grace_s",
    }

    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    # How long a rotated virtual key keeps working next to its replacement, unless the call says.
    key_rotation_grace_s: float = Field(default=86400.0, ge=0)


class WorkerSettings(GatewaySettings):
    """The jobs worker: the gateway, nothing more."""


class BudgetFunctionSettings(StateAccess, EventParts):
    """The budget function: the state table's override item, the bus, and what a global cost
    alarm in ALARM does (the template's GlobalBudgetAction)."""

    ENV: ClassVar[Mapping[str, str]] = {"BUDGET_ACTION": "budget_action"}

    budget_action: Literal["alert", "block", "downgrade"] = "alert"


class RotationSettings(AwsParts, RoutingParts, EventParts):
    """The provider key rotation function and its hourly backup check."""

    ENV: ClassVar[Mapping[str, str]] = {"SWITCHYARD_KEY_BACKUP_WARNING_DAYS": "key_backup_warning_days"}

    # A provider secret due to rotate within this many days with no backup raises the
    # ProviderKeysWithoutBackup alarm.
    key_backup_warning_days: float = Field(default=7.0, ge=0, le=365)
