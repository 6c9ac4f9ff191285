"""Settings per kind of function: each reads what it needs from the environment, and nothing of
the local runtime or the CLI is visible to what runs in Lambda."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from switchyard.config.local import CliSettings, LocalSettings
from switchyard.config.settings import (
    BudgetFunctionSettings,
    GatewaySettings,
    RotationSettings,
    RouterSettings,
    WorkerSettings,
)

ENV = {
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_REGION": "eu-west-1",
    "STATE_TABLE": "state",
    "CACHE_TABLE": "cache",
    "JOBS_QUEUE_URL": "https://sqs/queue",
    "SWITCHYARD_EVENT_BUS": "bus",
    "SWITCHYARD_WEBHOOK_ALLOW": "10.0.0.0/8, hooks.internal ,",
    "SWITCHYARD_CACHE": "off",
    "SWITCHYARD_BUDGETS_FAIL_CLOSED": "yes",
    "SWITCHYARD_PORT": "9001",
    "SWITCHYARD_LOCAL_STATE": "memory",
    "BUDGET_ACTION": "block",
    "SWITCHYARD_KEY_BACKUP_WARNING_DAYS": "3",
    "SWITCHYARD_MAX_BODY_BYTES": "2048",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
    "LOG_LEVEL": "WARNING",
}


def test_the_router_and_the_worker_share_the_gateways_settings() -> None:
    router, worker = RouterSettings.from_env(ENV), WorkerSettings.from_env(ENV)
    for s in (router, worker):
        assert isinstance(s, GatewaySettings)
        assert (s.aws_region, s.state_table, s.cache_table, s.jobs_queue_url) == (
            "eu-west-1",  # AWS_REGION wins over AWS_DEFAULT_REGION, as in botocore
            "state",
            "cache",
            "https://sqs/queue",
        )
        assert s.webhook_allow == ("10.0.0.0/8", "hooks.internal")
        assert (s.cache_enabled, s.budgets_fail_closed, s.log_level) == (False, True, "DEBUG")
    assert router.max_body_bytes == 2048 and not hasattr(worker, "max_body_bytes")


def test_local_fields_are_not_visible_to_lambda_code() -> None:
    for cls in (RouterSettings, WorkerSettings, BudgetFunctionSettings, RotationSettings):
        names = set(cls.model_fields)
        assert not names & {"host", "port", "local_state", "template_path", "gateway_url"}, cls
    local = LocalSettings.from_env(ENV)
    assert (local.port, local.local_state, local.budget_action) == (9001, "memory", "block")
    assert isinstance(local, RouterSettings)  # make run serves the same app


def test_the_budget_and_rotation_functions_read_only_their_parts() -> None:
    budget = BudgetFunctionSettings.from_env(ENV)
    assert (budget.state_table, budget.event_bus_name, budget.budget_action) == ("state", "bus", "block")
    assert BudgetFunctionSettings().budget_action == "alert"  # a fresh stack only alerts
    rotation = RotationSettings.from_env(ENV)
    assert (rotation.key_backup_warning_days, rotation.event_bus_name) == (3.0, "bus")
    assert "state_table" not in RotationSettings.model_fields


def test_the_cli_finds_the_local_gateway_and_its_key() -> None:
    cli = CliSettings.from_env({"SWITCHYARD_PORT": "9001", "SWITCHYARD_MASTER_KEY": "sk-sy-x"})
    assert cli.gateway_url is None and cli.port == 9001
    assert cli.master_key is not None and "sk-sy-x" not in repr(cli)


def test_a_malformed_value_names_its_field() -> None:
    with pytest.raises(ValidationError, match="state_timeout_s"):
        RouterSettings.from_env({"SWITCHYARD_STATE_TIMEOUT_S": "soon"})
    with pytest.raises(ValidationError, match="cache_enabled"):
        RouterSettings.from_env({"SWITCHYARD_CACHE": "maybe"})
