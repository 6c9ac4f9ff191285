"""Process settings, read from the environment once per cold start.

This is the only module that reads ``os.environ``; everything else receives a :class:`Settings`
(tests construct one directly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    config_path: Path = DEFAULT_CONFIG
    # A price table (config/prices.yaml's shape) whose entries override the shipped ones.
    prices_path: Path | None = None
    master_key: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding the master key (JSON {"key": ...} or plain).
    master_key_secret: str | None = None
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    # Cap on the whole attempt loop; each upstream call gets what is left of it.
    request_timeout_s: float = Field(default=120.0, gt=0)
    secrets_max_age_s: int = Field(default=300, ge=0)
    # How long a warm container trusts a virtual key lookup: the bound on how long a revoked key
    # keeps working (docs/keys.md).
    key_cache_ttl_s: float = Field(default=30.0, ge=0, le=60)
    # How long a container trusts its copy of a tenant's budgets and of the global budget override
    # (two reads per period: at the 2 s a request of DESIGN §11, 60 s keeps them ~0.07 a request).
    budget_cache_ttl_s: float = Field(default=60.0, ge=0, le=300)
    # How long a rotated key keeps working next to its replacement, unless the rotation says.
    key_rotation_grace_s: float = Field(default=86400.0, ge=0)
    # EventBridge bus for operational events (key rejected/rotated, budget thresholds); None: kept
    # in memory (tests, a local run without emulated EventBridge).
    event_bus_name: str | None = None
    # How long a container sums usage in memory before writing the aggregates (written at shutdown
    # too): the usage API lags by up to this much.
    usage_flush_s: float = Field(default=30.0, ge=0, le=300)
    # The process environment, for ``${VAR}`` expansion and ``api_key.env`` / ``secret_env`` in the
    # routing config. Kept out of repr: it holds provider keys.
    environment: dict[str, str] = Field(default_factory=dict, repr=False)
    # Serve unconfigured providers' models with the mock (None: unset, the local runtime says yes).
    mock_unconfigured: bool | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    service_name: str = "switchyard"
    log_level: str = "INFO"
    # Shared state (DESIGN §4): DynamoDB when a table is named (Lambda names both), else memory.
    state_table: str | None = None
    cache_table: str | None = None
    aws_region: str = "us-east-1"
    # Only for a local emulation (moto on 127.0.0.1); None means the region's real endpoint.
    aws_endpoint_url: str | None = None
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
    cache_enabled: bool = True
    cache_ttl_s: int = Field(default=3600, ge=1, le=30 * 86400)
    metrics_namespace: str = "Switchyard"
    # The budget function: what a global cost alarm in ALARM sets (the template's GlobalBudgetAction;
    # None: the template's default, under ``make run``). Local cost alarms' thresholds (None: the
    # template's GlobalDailyBudgetUSD / GlobalHourlySpikeUSD defaults).
    budget_action: Literal["block", "downgrade"] | None = None
    local_daily_budget_usd: float | None = Field(default=None, ge=0)
    local_hourly_budget_usd: float | None = Field(default=None, ge=0)
    # ``make run`` only: "memory" skips the embedded DynamoDB emulation (the overhead benchmark);
    # the template its tables come from (None: the checkout's template.yaml).
    local_state: Literal["dynamodb", "memory"] = "dynamodb"
    template_path: Path | None = None
    # Async jobs (docs/jobs.md): the queue (None: an in-process queue, for tests), how long
    # records live, how long a worker's claim holds, the largest batch one POST /v1/jobs takes.
    jobs_queue_url: str | None = None
    job_ttl_s: int = Field(default=7 * 86400, ge=60)
    job_lease_s: float = Field(default=900.0, gt=0)
    jobs_max_batch: int = Field(default=100, ge=1, le=1000)
    # Webhooks: per-tenant signing secrets are derived from this one (None: a random one per
    # process, so signatures cannot be verified: set it); targets allowed despite the SSRF guard
    # (IP networks such as 10.0.0.0/8, or exact host names).
    webhook_secret: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding it (JSON {"key": ...} or plain).
    webhook_secret_name: str | None = None
    webhook_allow: tuple[str, ...] = ()
    # Signed requests (docs/signing.md): keys' signing secrets are derived from this master secret
    # (or from the webhook master secret, under a label of their own, when this is not set).
    signing_secret: SecretStr | None = None
    # Name or ARN of the Secrets Manager secret holding it (JSON {"key": ...} or plain).
    signing_secret_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        master = env.get("SWITCHYARD_MASTER_KEY")
        values: dict[str, object] = {
            "config_path": Path(env.get("SWITCHYARD_CONFIG") or DEFAULT_CONFIG),
            "master_key": SecretStr(master) if master else None,
            "master_key_secret": env.get("SWITCHYARD_MASTER_KEY_SECRET") or None,
            "environment": {k: v for k, v in env.items() if v},
            "mock_unconfigured": _flag(env.get("SWITCHYARD_MOCK_UNCONFIGURED")),
            "host": env.get("SWITCHYARD_HOST") or "127.0.0.1",
            "port": int(env.get("SWITCHYARD_PORT") or 8080),
            "service_name": env.get("POWERTOOLS_SERVICE_NAME", "switchyard"),
            "log_level": env.get("POWERTOOLS_LOG_LEVEL", env.get("LOG_LEVEL", "INFO")),
        }
        if env.get("SWITCHYARD_MAX_BODY_BYTES"):
            values["max_body_bytes"] = int(env["SWITCHYARD_MAX_BODY_BYTES"])
        if env.get("SWITCHYARD_REQUEST_TIMEOUT_S"):
            values["request_timeout_s"] = float(env["SWITCHYARD_REQUEST_TIMEOUT_S"])
        if env.get("SWITCHYARD_SECRETS_MAX_AGE_S"):
            values["secrets_max_age_s"] = int(env["SWITCHYARD_SECRETS_MAX_AGE_S"])
        values.update(_state_values(env))
        values.update(_jobs_values(env))
        return cls.model_validate(values)


# Optional state settings: environment variable -> field (unset or empty keeps the default).
_STATE_ENV = {
    "STATE_TABLE": "state_table",
    "CACHE_TABLE": "cache_table",
    "SWITCHYARD_AWS_ENDPOINT_URL": "aws_endpoint_url",
    "SWITCHYARD_STATE_TIMEOUT_S": "state_timeout_s",
    "SWITCHYARD_STATE_REFRESH_S": "state_refresh_s",
    "SWITCHYARD_STATE_RETRY_S": "state_retry_s",
    "SWITCHYARD_CACHE_TTL_S": "cache_ttl_s",
    "POWERTOOLS_METRICS_NAMESPACE": "metrics_namespace",
    "SWITCHYARD_LOCAL_STATE": "local_state",
    "SWITCHYARD_TEMPLATE": "template_path",
    "SWITCHYARD_PRICES": "prices_path",
    "SWITCHYARD_KEY_CACHE_TTL_S": "key_cache_ttl_s",
    "SWITCHYARD_BUDGET_CACHE_TTL_S": "budget_cache_ttl_s",
    "SWITCHYARD_KEY_ROTATION_GRACE_S": "key_rotation_grace_s",
    "SWITCHYARD_EVENT_BUS": "event_bus_name",
    "SWITCHYARD_USAGE_FLUSH_S": "usage_flush_s",
    "BUDGET_ACTION": "budget_action",
    "SWITCHYARD_LOCAL_DAILY_BUDGET_USD": "local_daily_budget_usd",
    "SWITCHYARD_LOCAL_HOURLY_BUDGET_USD": "local_hourly_budget_usd",
}


def _state_values(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {field: env[name] for name, field in _STATE_ENV.items() if env.get(name)}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        values["aws_region"] = region
    for name, field in (
        ("SWITCHYARD_LIMITS_FAIL_CLOSED", "limits_fail_closed"),
        ("SWITCHYARD_CACHE", "cache_enabled"),
    ):
        flag = _flag(env.get(name))
        if flag is not None:
            values[field] = flag
    return values


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _jobs_values(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    if env.get("JOBS_QUEUE_URL"):
        values["jobs_queue_url"] = env["JOBS_QUEUE_URL"]
    if env.get("SWITCHYARD_JOB_TTL_S"):
        values["job_ttl_s"] = int(env["SWITCHYARD_JOB_TTL_S"])
    if env.get("SWITCHYARD_JOB_LEASE_S"):
        values["job_lease_s"] = float(env["SWITCHYARD_JOB_LEASE_S"])
    if env.get("SWITCHYARD_JOBS_MAX_BATCH"):
        values["jobs_max_batch"] = int(env["SWITCHYARD_JOBS_MAX_BATCH"])
    if env.get("SWITCHYARD_WEBHOOK_SECRET_NAME"):
        values["webhook_secret_name"] = env["SWITCHYARD_WEBHOOK_SECRET_NAME"]
    if env.get("SWITCHYARD_WEBHOOK_SECRET"):
        values["webhook_secret"] = SecretStr(env["SWITCHYARD_WEBHOOK_SECRET"])
    if env.get("SWITCHYARD_SIGNING_SECRET_NAME"):
        values["signing_secret_name"] = env["SWITCHYARD_SIGNING_SECRET_NAME"]
    if env.get("SWITCHYARD_SIGNING_SECRET"):
        values["signing_secret"] = SecretStr(env["SWITCHYARD_SIGNING_SECRET"])
    if env.get("SWITCHYARD_WEBHOOK_ALLOW"):
        values["webhook_allow"] = tuple(
            p.strip() for p in env["SWITCHYARD_WEBHOOK_ALLOW"].split(",") if p.strip()
        )
    return values
