"""State ports: one ``Protocol`` per concern, implemented by memory and DynamoDB adapters.

Every port is shaped for a shared store: writes are compare-and-set on a version, so the memory
adapter behaves the way a conditional ``UpdateItem`` does and the attempt loop never depends on
which adapter is behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class BreakerStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """One deployment's health. Times are wall-clock epoch seconds (shared between instances)."""

    status: BreakerStatus = BreakerStatus.CLOSED
    failures: int = 0
    window_start: float = 0.0
    opened_at: float = 0.0
    probe_started: float = 0.0
    # A deployment out of quota is kept out until then, without counting as a breaker failure.
    parked_until: float = 0.0
    version: int = 0


class BreakerStore(Protocol):
    async def load(self, deployment_id: str) -> BreakerRecord:
        """The current record; a fresh CLOSED record (version 0) when none exists. Raises nothing
        for a missing record; raises ``StateUnavailableError`` when the store cannot be read."""
        ...

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Store ``record`` (its version must be ``expected_version + 1``) only if the stored version
        is still ``expected_version``; False when another writer got there first. Raises
        ``StateUnavailableError`` when the store cannot be written."""
        ...

    async def load_all(self) -> dict[str, BreakerRecord]:
        """Every known record, for health summaries. Raises ``StateUnavailableError``."""
        ...


class StateUnavailableError(Exception):
    """The backing store could not be reached; callers degrade to local state."""
