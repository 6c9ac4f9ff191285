"""Writes each request's usage to the :class:`~switchyard.state.ports.UsageLedger`.

The request pipeline attributes every accounted answer (and every request that got none) to its key and
tenant and hands it here. Deltas are summed in memory per aggregate and written once the oldest of
them is ``flush_s`` old (one ``UpdateItem ADD`` per aggregate touched), in the background: a
request pays no AWS call for its usage (about one call per request in all, docs/scaling.md), and a
busy container writes each aggregate a few times a minute instead of once per request.

When it is written: a timer set by the first delta of an empty buffer writes it ``flush_s`` later
whether or not requests come (a long-lived process, the local runtime); a Lambda instance is frozen
between requests, so its timer fires when the next request thaws it, and that request's arrival
writes an overdue buffer too (:meth:`flush_if_due`, called by the HTTP app for every request).
:meth:`drain` writes what is left: at shutdown (SIGTERM, in Lambda too) and after each jobs batch.
A failed write is logged and counted, never raised; its deltas are lost rather than retried twice
into a counter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from time import time

from switchyard.accounting import UsageRecord
from switchyard.metrics.requests import RequestMetrics
from switchyard.observability import logger
from switchyard.state.memory import summed
from switchyard.state.ports import UsageDelta, UsageLedger


def day_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


class UsageRecorder:
    def __init__(
        self,
        ledger: UsageLedger,
        metrics: RequestMetrics,
        *,
        flush_s: float = 30.0,
        clock: Callable[[], float] = time,
    ) -> None:
        self._ledger = ledger
        # Told of every answer with its tenant too: the CostUSD, token and Answers metrics.
        self._metrics = metrics
        self._flush_s = flush_s
        self._clock = clock
        self._buffer: dict[tuple[str, str, str, str, str], UsageDelta] = {}
        self._oldest: float | None = None  # when the buffer's oldest delta came in
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.failures = 0

    def answered(self, record: UsageRecord, key_id: str, tenant: str, *, refused: bool = False) -> None:
        """A provider's (or the cache's) answer, with its tokens and cost; ``refused``: a later
        stage refused it (the caller got an error), so it is an error too, but still spent."""
        self._metrics.answered(record, tenant)
        usage = record.usage
        self._add(
            UsageDelta(
                tenant=tenant,
                key_id=key_id,
                model=record.public_model,
                day=day_of(self._clock()),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cost_usd=record.cost_usd,
                provider=record.provider,
                cache_hits=1 if record.cache_hit else 0,
                fallbacks=1 if record.attempts > 1 else 0,
                saved_usd=record.saved_usd,
                errors=1 if refused else 0,
            )
        )

    def cached(self, record: UsageRecord, key_id: str, tenant: str, *, stored: bool) -> None:
        """A provider's answer to a request the cache had no entry for (``stored``: kept now),
        filed in the same aggregate as the answer."""
        self._add(
            UsageDelta(
                tenant=tenant,
                key_id=key_id,
                model=record.public_model,
                day=day_of(self._clock()),
                requests=0,
                provider=record.provider,
                cache_misses=1,
                cache_stores=1 if stored else 0,
            )
        )

    def failed(self, model: str, key_id: str, tenant: str) -> None:
        """A request that got no answer (every deployment failed, or it was refused)."""
        self._add(UsageDelta(tenant=tenant, key_id=key_id, model=model, day=day_of(self._clock()), errors=1))

    def flush_if_due(self) -> None:
        """Write the buffer if its oldest delta is ``flush_s`` old (a request arriving at an
        instance that was frozen with usage in hand)."""
        if self._oldest is not None and self._clock() - self._oldest >= self._flush_s:
            self._flush()

    async def drain(self) -> None:
        """Write everything buffered and wait for the writes under way (shutdown, tests)."""
        self._flush()
        while self._pending:
            writes = list(self._pending)
            await asyncio.gather(*writes, return_exceptions=True)
            # Dropped here, not left to their done callbacks: when every write has finished
            # already, gather completes without yielding to the loop (Python 3.13), those
            # callbacks never get to run, and the loop would spin on the same finished tasks.
            self._pending.difference_update(writes)

    def _add(self, delta: UsageDelta) -> None:
        slot = (delta.tenant, delta.day, delta.key_id, delta.model, delta.provider)
        self._buffer[slot] = summed(self._buffer.get(slot), delta)
        if self._oldest is None:
            self._oldest = self._clock()
            # Measured on the loop's own clock: the injected one may be a test's, standing still.
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self._flush)
        self.flush_if_due()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._oldest = None, None
        if not self._buffer:
            return
        deltas, self._buffer = list(self._buffer.values()), {}
        task = asyncio.get_running_loop().create_task(self._write(deltas))
        self._pending.add(task)  # a reference, so the task is not collected mid-write
        task.add_done_callback(self._pending.discard)

    async def _write(self, deltas: list[UsageDelta]) -> None:
        for delta in deltas:
            try:
                await self._ledger.add(delta)
            except Exception:
                self.failures += 1
                logger.exception("usage aggregate not written", extra={"tenant": delta.tenant})
