"""The composition root in Lambda: a function whose table, queue or bus is not configured does not
start (it would otherwise keep state, jobs or events in one instance's memory); with them all it
builds its parts on DynamoDB, SQS and EventBridge without an AWS call."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from fakes import MASTER_KEY
from switchyard.compose import open_gateway
from switchyard.config.settings import RouterSettings, WorkerSettings

IN_LAMBDA: dict[str, Any] = {
    "lambda_function_name": "switchyard-router",
    "state_table": "state",
    "cache_table": "cache",
    "jobs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    "event_bus_name": "default",
    "master_key": SecretStr(MASTER_KEY),
    "webhook_secret": SecretStr("whsec-master"),  # the template names one for both functions
}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("state_table", "STATE_TABLE"),
        ("cache_table", "CACHE_TABLE"),
        ("jobs_queue_url", "JOBS_QUEUE_URL"),
        ("event_bus_name", "SWITCHYARD_EVENT_BUS"),
    ],
)
@pytest.mark.parametrize("settings_class", [RouterSettings, WorkerSettings])
async def test_a_lambda_function_without_its_resource_does_not_start(
    settings_class: type[RouterSettings | WorkerSettings], missing: str, named: str
) -> None:
    settings = settings_class(**{**IN_LAMBDA, missing: None})
    with pytest.raises(ValueError, match=f"{named} is not set for the Lambda function switchyard-router"):
        await open_gateway(settings)


@pytest.mark.parametrize("settings_class", [RouterSettings, WorkerSettings])
async def test_a_lambda_function_without_a_signing_master_secret_does_not_start(
    settings_class: type[RouterSettings | WorkerSettings],
) -> None:
    # Keys' request-signing secrets derive from it: a random one per instance would make a secret
    # set through one instance fail on every other.
    settings = settings_class(**{**IN_LAMBDA, "webhook_secret": None})
    with pytest.raises(ValueError, match="no request signing master secret"):
        await open_gateway(settings)


async def test_with_every_resource_named_the_gateway_is_built_on_them() -> None:
    gateway = await open_gateway(WorkerSettings(**IN_LAMBDA))
    try:
        assert gateway.state.backend == "dynamodb" and gateway.state.calls.total == 0
        assert type(gateway.events).__name__ == "EventBridgePublisher"
        assert type(gateway.jobs.queue).__name__ == "SqsJobQueue"
    finally:
        await gateway.aclose()


async def test_outside_lambda_nothing_named_means_memory() -> None:
    gateway = await open_gateway(RouterSettings(master_key=SecretStr(MASTER_KEY)))
    try:
        assert gateway.state.backend == "memory"
        assert type(gateway.events).__name__ == "MemoryPublisher"
        assert type(gateway.jobs.queue).__name__ == "MemoryJobQueue"
    finally:
        await gateway.aclose()
