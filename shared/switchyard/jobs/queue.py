"""The ``JobQueue`` port (where submitted jobs go) and its in-process adapter.

The SQS adapter is :mod:`switchyard.jobs.sqs`; without a queue URL (tests, a memory-state run)
messages wait in memory until :meth:`MemoryJobQueue.drain` hands them to a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from switchyard.errors import QueueUnavailableError as QueueUnavailableError


class JobQueue(Protocol):
    async def send(self, bodies: Sequence[str]) -> None:
        """Enqueue every message body. Raises ``QueueUnavailableError``."""
        ...


class MemoryJobQueue:
    def __init__(self) -> None:
        self._bodies: list[str] = []

    async def send(self, bodies: Sequence[str]) -> None:
        self._bodies.extend(bodies)

    def drain(self) -> list[str]:
        bodies, self._bodies = self._bodies, []
        return bodies
