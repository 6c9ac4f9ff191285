"""A pipeline stage for tests, added through the routing config like any configured stage
(``pipeline.stages: [{use: "stagekit:Recording"}]``): it keeps the priced usage of every answer the
caller got, which is what the gateway charges (a job that failed after its provider call is not)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from switchyard.accounting import UsageRecord
from switchyard.core import Call, Entry

RECORDING_STAGE = {"use": "stagekit:Recording"}


def with_recording(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a routing config) with the recording stage last in its pipeline."""
    pipeline = dict(config.get("pipeline") or {})
    pipeline["stages"] = [*pipeline.get("stages", []), RECORDING_STAGE]
    return {**config, "pipeline": pipeline}


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self._entry = _Keep(self.records)

    async def enter(self, call: Call) -> Entry:
        return self._entry

    def per_request(self) -> Counter[str]:
        return Counter(r.request_id for r in self.records)


class _Keep(Entry):
    __slots__ = ("_records",)

    def __init__(self, records: list[UsageRecord]) -> None:
        self._records = records

    async def leave(self, call: Call, served: bool) -> None:
        if served and call.record is not None:
            self._records.append(call.record)


def recording(gateway: Any) -> Recording:
    """The gateway's recording stage (its routing config must name it)."""
    [stage] = [s for s in gateway.pipeline.stages if isinstance(s, Recording)]
    return stage
