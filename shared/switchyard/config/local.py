"""Settings of what runs on a laptop, never in Lambda: the local runtime behind ``make run`` and the
operator CLI. Kept apart so that code running in Lambda cannot read them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from switchyard.config.settings import AwsParts, RouterSettings

DEFAULT_PORT = 8080


class LocalSettings(RouterSettings):
    """``make run``: the router's settings, where it listens, what emulates AWS, and the cost
    alarms it emulates (whose thresholds and action default to the template's)."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_HOST": "host",
        "SWITCHYARD_PORT": "port",
        "SWITCHYARD_LOCAL_STATE": "local_state",
        "SWITCHYARD_TEMPLATE": "template_path",
        "SWITCHYARD_LOCAL_DAILY_BUDGET_USD": "local_daily_budget_usd",
        "SWITCHYARD_LOCAL_HOURLY_BUDGET_USD": "local_hourly_budget_usd",
        "BUDGET_ACTION": "budget_action",
    }

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    # "memory" skips the embedded DynamoDB emulation (the overhead benchmark); the template its
    # tables come from (None: the checkout's template.yaml).
    local_state: Literal["dynamodb", "memory"] = "dynamodb"
    template_path: Path | None = None
    local_daily_budget_usd: float | None = Field(default=None, ge=0)
    local_hourly_budget_usd: float | None = Field(default=None, ge=0)
    budget_action: Literal["alert", "block", "downgrade"] | None = None


class CliSettings(AwsParts):
    """The ``switchyard`` CLI: which gateway it talks to and with which key, and the region of a
    deployed stack (provider key secrets, the jobs DLQ)."""

    ENV: ClassVar[Mapping[str, str]] = {
        "SWITCHYARD_URL": "gateway_url",
        "SWITCHYARD_PORT": "port",
        "SWITCHYARD_MASTER_KEY": "master_key",
    }

    # The gateway's URL (None: the local runtime's, on ``port``).
    gateway_url: str | None = None
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    master_key: SecretStr | None = None
