"""The local runtime behind ``make run``: the same ASGI app Lambda runs, served by uvicorn.

Without provider keys it serves every configured model with the mock provider, so a fresh machine
answers at once; set OPENAI_API_KEY / ANTHROPIC_API_KEY / … and the real providers are used.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from pydantic import SecretStr

from switchyard.config.settings import PROVIDER_KEY_ENV, Settings
from switchyard.http.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

_STATE_DIR = Path(".switchyard")


def local_settings(settings: Settings) -> Settings:
    """Settings for a local run: a master key that survives restarts (``.switchyard/master-key``)
    unless SWITCHYARD_MASTER_KEY is given, likewise the master secret keys' request-signing
    secrets derive from (``.switchyard/signing-secret``), and the mock stand-in for unconfigured
    providers."""
    updates: dict[str, object] = {}
    if settings.master_key is None:
        updates["master_key"] = SecretStr(_persistent_key())
    signing = (settings.signing_secret, settings.signing_secret_name, settings.webhook_secret)
    if not any(signing) and not settings.webhook_secret_name:
        updates["signing_secret"] = SecretStr(
            _persistent("signing-secret", lambda: secrets.token_urlsafe(32))
        )
    if settings.mock_unconfigured is None:
        updates["mock_unconfigured"] = True
    return settings.model_copy(update=updates)


def _persistent_key() -> str:
    return _persistent("master-key", lambda: "sk-sy-local-" + secrets.token_urlsafe(24))


def _persistent(name: str, make: Callable[[], str]) -> str:
    """The value kept in ``.switchyard/<name>``, made (readable by the owner only) the first time."""
    path = _STATE_DIR / name
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = make()
    _STATE_DIR.mkdir(exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return value


def banner(settings: Settings, host: str, port: int, budget: str | None = None) -> str:
    assert settings.master_key is not None
    key = settings.master_key.get_secret_value()
    real = [name for name in PROVIDER_KEY_ENV if name in settings.environment]
    providers = ", ".join(real) if real else "none set: every model is answered by the mock provider"
    url = f"http://{host}:{port}"
    # The key is printed on purpose: this is the operator's own terminal, and the only way to use
    # a generated key. It never goes to a log.
    return "\n".join(
        [
            f"Switchyard listening on {url}",
            f"  API key:        {key}",
            f"  provider keys:  {providers}",
            f"  config:         {settings.config_path}",
            f"  state:          {_state_line(settings)}",
            f"  jobs:           {_jobs_line(settings)}",
            f"  budget:         {budget or 'no cost alarms'}",
            "  try:",
            f"    curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
            "-H 'Content-Type: application/json' "
            """-d '{"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}'""",
            "",
        ]
    )


def _jobs_line(settings: Settings) -> str:
    if not settings.jobs_queue_url:
        return "no queue: POST /v1/jobs accepts jobs, nothing runs them"
    return f"worker polling {settings.jobs_queue_url}"


def _state_line(settings: Settings) -> str:
    if not settings.state_table:
        return "in memory (this process only)"
    where = f"emulated at {settings.aws_endpoint_url}" if settings.aws_endpoint_url else settings.aws_region
    return f"DynamoDB table {settings.state_table} ({where})"


def _cost_alarms(app: FastAPI, settings: Settings, other_spend: Callable[[], float] | None = None) -> str:
    """The template's cost alarms, emulated against this gateway's spend, driving the budget
    function (switchyard.local.budget); what the banner says about them."""
    from switchyard.local.budget import BUDGET_FUNCTION, ROOT, describe, with_cost_alarms
    from switchyard.local.template import TemplateError, load_template

    try:
        template = load_template(settings.template_path or ROOT / "template.yaml")
        return describe(
            with_cost_alarms(app, settings, template, BUDGET_FUNCTION, other_spend=other_spend or _nothing)
        )
    except (OSError, ImportError, TemplateError) as exc:
        return f"no cost alarms ({exc})"


def _nothing() -> float:
    return 0.0


def main() -> None:
    settings = local_settings(Settings.from_env())
    with ExitStack() as stack:
        if settings.local_state == "dynamodb" and not settings.state_table:
            # Imported here: moto is a development dependency and slow to import.
            from switchyard.local.aws import local_state

            settings = stack.enter_context(local_state(settings))
        jobs_spend: Callable[[], float] | None = None
        if settings.jobs_queue_url:
            # The SQS worker, as Lambda would run it, on the emulated jobs queue.
            from switchyard.local.poller import QueuePoller

            poller = QueuePoller(settings, settings.jobs_queue_url)
            poller.start()
            stack.callback(poller.stop)
            jobs_spend = poller.spent_usd
        app = create_app(settings)
        budget = _cost_alarms(app, settings, jobs_spend)
        print(banner(settings, settings.host, settings.port, budget), flush=True)
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="warning", access_log=False, lifespan="on"
        )
    sys.exit(0)
