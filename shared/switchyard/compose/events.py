"""Which event publisher a function gets: EventBridge when a bus is named, memory otherwise, and
none at all in Lambda without a bus (a cold-start error, not events lost to memory)."""

from __future__ import annotations

from typing import Any, Protocol

from switchyard.events import EventPublisher, MemoryPublisher
from switchyard.events.eventbridge import EventBridgePublisher


class _Eventful(Protocol):
    """Settings of a function that publishes (every kind has these parts)."""

    @property
    def event_bus_name(self) -> str | None: ...
    @property
    def lambda_function_name(self) -> str | None: ...
    @property
    def aws_region(self) -> str: ...
    @property
    def aws_endpoint_url(self) -> str | None: ...


def build_publisher(bus_name: str | None, region: str, endpoint_url: str | None = None) -> EventPublisher:
    """EventBridge when a bus is named (its client built, and boto3 imported, on the first event),
    else memory."""
    if not bus_name:
        return MemoryPublisher()
    return EventBridgePublisher(bus_name=bus_name, make_client=lambda: _events_client(region, endpoint_url))


def _events_client(region: str, endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("events", region_name=region, endpoint_url=endpoint_url, config=config)


def require_event_bus(settings: _Eventful) -> str | None:
    """The bus to publish to. Raises ValueError in Lambda when none is set (a cold-start error:
    the function's code publishes, and its events must reach EventBridge); elsewhere None means
    events stay in memory (tests, ``make run``)."""
    if not settings.event_bus_name and settings.lambda_function_name:
        raise ValueError(
            f"SWITCHYARD_EVENT_BUS is not set for the Lambda function {settings.lambda_function_name}: "
            "its budget and provider key events would be lost"
        )
    return settings.event_bus_name


def publisher_for(settings: _Eventful) -> EventPublisher:
    """The publisher every function's composition builds (see :func:`require_event_bus`)."""
    return build_publisher(require_event_bus(settings), settings.aws_region, settings.aws_endpoint_url)
