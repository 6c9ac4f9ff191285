"""Admission as a scope: what a request takes on the way in is given back on every way out.

Entering enters every stage in order (cache lookup, key limits and concurrency slot, budget
reservation, …). Leaving — once, however the request ends: an answer, an error, a cancellation,
a client gone mid-stream — leaves the entered stages in reverse order, shielded from
cancellation, so a limit grant or a budget reservation can never be lost. A stage that refuses
(raises) while entering makes the ones already entered leave at once.

Buffered answers use it as ``async with``; a streamed answer enters it before its first byte and
leaves it when the stream is closed (:mod:`switchyard.core.streamed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import anyio

from switchyard.core.call import Call
from switchyard.core.stage import Entry, Stage
from switchyard.observability import logger


class Admission:
    __slots__ = ("_call", "_entries", "_left", "_stages")

    def __init__(self, stages: Sequence[Stage], call: Call) -> None:
        self._stages = stages
        self._call = call
        self._entries: list[Entry] = []
        self._left = False

    @property
    def entries(self) -> Sequence[Entry]:
        """The entered stages' entries, outermost first."""
        return self._entries

    def hold(self, entry: Entry) -> None:
        """Something taken after admission (the answering deployment's limit grant): given back
        with the rest, before them."""
        self._entries.append(entry)

    async def __aenter__(self) -> Admission:
        try:
            for stage in self._stages:
                entry = await stage.enter(self._call)
                if entry is not None:
                    self._entries.append(entry)
        except BaseException:
            await self.leave(served=False)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.leave(served=exc_type is None)

    async def leave(self, *, served: bool) -> None:
        """Leave every entered stage, innermost first; later calls do nothing."""
        if self._left:
            return
        self._left = True
        # Shielded: a cancelled request (the client went away) still gives back what it holds.
        with anyio.CancelScope(shield=True):
            for entry in reversed(self._entries):
                try:
                    await entry.leave(self._call, served)
                except Exception:
                    logger.exception("a stage failed to leave", extra={"request_id": self._call.request_id})
