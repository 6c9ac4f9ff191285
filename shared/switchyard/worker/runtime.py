"""The worker's process: one event loop and one gateway per cold start, one batch per invocation.

Lambda calls :meth:`WorkerRuntime.handle` from ``functions/worker/app.py``; ``make run`` calls the
same method from its queue poller. The loop outlives invocations, so the gateway's pooled HTTP
clients (bound to it) are reused by every warm invocation.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from switchyard.compose.gateway import Gateway, open_gateway
from switchyard.config.settings import GatewaySettings
from switchyard.worker.batch import process_batch
from switchyard.worker.jobs import JobWorker


class WorkerRuntime:
    def __init__(self, loop: asyncio.AbstractEventLoop, gateway: Gateway, worker: JobWorker) -> None:
        self._loop = loop
        self.gateway = gateway
        self.worker = worker

    @classmethod
    def start(
        cls,
        settings: GatewaySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> WorkerRuntime:
        """Raises ValueError on an invalid routing config (the cold start fails)."""
        loop = asyncio.new_event_loop()
        try:
            gateway = loop.run_until_complete(
                open_gateway(settings, transport=transport, webhook_transport=webhook_transport)
            )
        except BaseException:
            loop.close()
            raise
        assert gateway.jobs is not None
        return cls(loop, gateway, JobWorker(gateway, gateway.jobs))

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """One SQS batch; the answer lists the messages to retry (ReportBatchItemFailures)."""
        return self._loop.run_until_complete(self._handle(event))

    async def _handle(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            return await process_batch(self.worker, event)
        finally:
            # The batch's usage, budget settlements and metrics are written before the invocation
            # ends: between invocations the instance may be frozen or reclaimed.
            await self.gateway.flush()

    def close(self) -> None:
        self._loop.run_until_complete(self.gateway.aclose())
        self._loop.close()
