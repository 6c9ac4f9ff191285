"""The EventBridge adapter of :class:`~switchyard.events.EventPublisher`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from switchyard.events import SOURCE
from switchyard.observability import logger


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
