"""The budget and rotation functions' parts, built once per cold start from their settings: the
state table's budget store, Secrets Manager and EventBridge clients, the bus (in Lambda, a function
without one does not start)."""

from __future__ import annotations

from typing import Any

import httpx

from switchyard.budgets.alarm import BudgetFunction
from switchyard.compose.events import require_event_bus
from switchyard.compose.state import dynamo_client
from switchyard.config.settings import BudgetFunctionSettings, RotationSettings
from switchyard.events.eventbridge import EventBridgePublisher
from switchyard.keys.backup_watch import BackupWatch, watched_secrets
from switchyard.keys.secrets_rotation import Rotator, configured_providers, models_endpoint_test
from switchyard.metrics import PROVIDER_KEYS_WITHOUT_BACKUP

_PROVIDER_TEST_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def open_budget_function(settings: BudgetFunctionSettings) -> BudgetFunction:
    """The state table's budget store and the event bus. Raises ValueError without a state table
    (an override kept in this instance's memory would reach no router) and, in Lambda, without a
    bus."""
    from switchyard.compose.events import publisher_for
    from switchyard.state.dynamodb import Table
    from switchyard.state.dynamodb_budgets import DynamoBudgetStore

    if not settings.state_table:
        raise ValueError("STATE_TABLE is not set")
    store = DynamoBudgetStore(Table(dynamo_client(settings), settings.state_table))
    return BudgetFunction(store, publisher_for(settings), settings.budget_action)


def aws_client(settings: RotationSettings, service: str) -> Any:
    """A boto3 client of the rotation function (bounded timeouts and retries)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config
    )


def open_rotator(settings: RotationSettings) -> Rotator:
    """The rotation steps: Secrets Manager, the provider test (each provider's models endpoint),
    the bus. Raises ValueError in Lambda without a bus."""
    bus = require_event_bus(settings) or "default"
    publisher = EventBridgePublisher(aws_client(settings, "events"), bus)
    return Rotator(
        aws_client(settings, "secretsmanager"),
        configured_providers(settings.config_path),
        models_endpoint_test(httpx.Client(timeout=_PROVIDER_TEST_TIMEOUT)),
        publisher.publish_sync,
    )


def open_backup_watch(settings: RotationSettings) -> BackupWatch:
    """The rotation function's hourly check: the provider secrets named by the routing config (and
    the environment), and the EMF metric it reports."""
    from switchyard.metrics.sink import publish_emf

    def emit(count: int) -> None:
        publish_emf(settings.metrics_namespace, settings.service_name, {PROVIDER_KEYS_WITHOUT_BACKUP: count})

    watched = watched_secrets(configured_providers(settings.config_path), settings.environment)
    return BackupWatch(
        aws_client(settings, "secretsmanager"), watched, warn_days=settings.key_backup_warning_days, emit=emit
    )
