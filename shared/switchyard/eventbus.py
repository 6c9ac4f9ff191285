"""Operational events to EventBridge (``source: switchyard``): a provider key rejected or rotated,
budget thresholds. One port, :class:`EventPublisher`; the EventBridge adapter is built with an
injected boto3 client, the memory one keeps events for tests and the local runtime.

Publishing never fails the caller: an event that cannot be sent is logged and dropped, since a
request must not fail because an alert could not go out. Not configuring the bus is another matter:
in Lambda every event would vanish into a memory publisher nobody reads, so
:func:`publisher_for` refuses to start there without one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchyard.config.settings import Settings
from switchyard.observability import logger

SOURCE = "switchyard"
KEY_REJECTED = "Switchyard Provider Key Rejected"
KEY_ROTATED = "Switchyard Provider Key Rotated"
BUDGET_THRESHOLD = "Switchyard Budget Threshold"
# The global budget action was set or lifted by the budget function (a cost alarm changed state).
BUDGET_ACTION = "Switchyard Budget Action"


class EventPublisher(Protocol):
    async def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Send one event. Never raises: a failure is logged."""
        ...


@dataclass(slots=True)
class MemoryPublisher:
    """Keeps the latest events (bounded: the local runtime runs for days)."""

    events: deque[tuple[str, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=1000))

    async def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


class EventBridgePublisher:
    """``client`` is built on the first event when only ``make_client`` is given: events are rare,
    and a boto3 client costs ~80 ms of CPU on a full core, several times that at a small Lambda's
    share, in a cold start that has no event to send (docs/scaling.md)."""

    def __init__(
        self, client: Any = None, bus_name: str = "default", *, make_client: Callable[[], Any] | None = None
    ) -> None:
        assert client is not None or make_client is not None
        self._client = client
        self._make_client = make_client
        self._lock = threading.Lock()  # publish_sync runs in worker threads
        self._bus = bus_name

    async def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        await asyncio.to_thread(self.publish_sync, detail_type, detail)

    def publish_sync(self, detail_type: str, detail: dict[str, Any]) -> None:
        """For the synchronous Lambda handlers (budget, rotation)."""
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self._bus,
        }
        try:
            answer = self._events().put_events(Entries=[entry])
        except Exception:
            logger.exception("event not published", extra={"detail_type": detail_type})
            return
        if answer.get("FailedEntryCount"):
            logger.error("event rejected by EventBridge", extra={"detail_type": detail_type})

    @property
    def client(self) -> Any:
        """The boto3 client (built now if it was not yet)."""
        return self._events()

    def _events(self) -> Any:
        with self._lock:
            if self._client is None:
                assert self._make_client is not None
                self._client = self._make_client()
            return self._client


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


def require_event_bus(settings: Settings) -> str | None:
    """The bus to publish to. Raises ValueError in Lambda when none is set (a cold-start error:
    the function's code publishes, and its events must reach EventBridge); elsewhere None means
    events stay in memory (tests, ``make run``)."""
    if not settings.event_bus_name and settings.lambda_function_name:
        raise ValueError(
            f"SWITCHYARD_EVENT_BUS is not set for the Lambda function {settings.lambda_function_name}: "
            "its budget and provider key events would be lost"
        )
    return settings.event_bus_name


def publisher_for(settings: Settings) -> EventPublisher:
    """The publisher every function's composition builds (see :func:`require_event_bus`)."""
    return build_publisher(require_event_bus(settings), settings.aws_region, settings.aws_endpoint_url)
