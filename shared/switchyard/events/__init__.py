"""Operational events (``source: switchyard``): a provider key rejected or rotated, budget
thresholds, the global budget action. One port, :class:`EventPublisher`; adapters: memory (tests,
``make run``) here, EventBridge in :mod:`switchyard.events.eventbridge`. The composition root
picks one (and in Lambda refuses to start without a bus: every event would vanish into memory).

Publishing never fails the caller: an event that cannot be sent is logged and dropped, since a
request must not fail because an alert could not go out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

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
