"""In-memory adapters: one process's state, with the same compare-and-set semantics as DynamoDB."""

from __future__ import annotations

from switchyard.state.ports import BreakerRecord

_FRESH = BreakerRecord()


class MemoryBreakerStore:
    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    async def load(self, deployment_id: str) -> BreakerRecord:
        return self._records.get(deployment_id, _FRESH)

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        current = self._records.get(deployment_id)
        if (current.version if current else 0) != expected_version:
            return False
        self._records[deployment_id] = record
        return True

    async def load_all(self) -> dict[str, BreakerRecord]:
        return dict(self._records)
