"""Usage aggregates per tenant, key, model, provider and day: every answer (a cache hit too, at
cost 0 with what it saved) and every request that got none is filed when the call leaves; an
answer a provider gave and a later stage refused (an output guardrail) is an error that still
cost its tokens."""

from __future__ import annotations

from switchyard.core.call import Call
from switchyard.core.stage import Entry
from switchyard.usage.recorder import UsageRecorder


class UsageStage:
    name = "usage"

    def __init__(self, recorder: UsageRecorder) -> None:
        self._entry = _File(recorder)

    async def enter(self, call: Call) -> Entry | None:
        return self._entry  # holds nothing per call


class _File(Entry):
    __slots__ = ("_recorder",)

    def __init__(self, recorder: UsageRecorder) -> None:
        self._recorder = recorder

    async def leave(self, call: Call, served: bool) -> None:
        record = call.record
        if record is None:
            self._recorder.failed(call.asked_model, call.key_id, call.tenant)
        else:
            self._recorder.answered(record, call.key_id, call.tenant, refused=not served)
