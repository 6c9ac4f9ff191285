"""Buffered usage reaches DynamoDB from an instance that may be frozen or stopped at any time.

A Lambda instance is frozen between invocations: usage aggregates it summed before a freeze wait
in memory until it is thawed. The request that thaws it starts their write at once
(:class:`FlushDueUsage`), so the write runs while the instance is awake serving that request; and
SIGTERM, which comes before the instance is reclaimed, starts the gateway's flush at once
(:func:`flush_on_sigterm`).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from switchyard.observability import logger

if TYPE_CHECKING:
    from types import FrameType

    from starlette.types import ASGIApp, Receive, Scope, Send


class FlushDueUsage:
    """Pure ASGI (no task per request): every request first writes usage held past its interval."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Looked up per request: the gateway is opened (and may be reopened) by the lifespan.
            app: Any = scope.get("app")
            gateway = getattr(getattr(app, "state", None), "gateway", None)
            if gateway is not None:
                gateway.usage.flush_if_due()
        await self.app(scope, receive, send)


@asynccontextmanager
async def flush_on_sigterm(flush: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """While the context lasts, SIGTERM starts ``flush`` at once, then does what it did before
    (uvicorn's graceful stop). Lambda sends SIGTERM before it reclaims an instance and allows about
    300 ms: uvicorn reaches the lifespan's end only after its next 100 ms tick and the closing of
    its connections, so what the instance holds is written first. The context ends after that
    write, so the shutdown's own flush finds nothing left to write twice. Only in the main thread,
    where signals are handled; elsewhere (an app under test in a worker thread) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    writes: set[asyncio.Task[None]] = set()

    def start_flush() -> None:
        task = loop.create_task(_quietly(flush))
        writes.add(task)  # a reference, so the task is not collected mid-write
        task.add_done_callback(writes.discard)

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(start_flush)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        await asyncio.gather(*writes)


async def _quietly(flush: Callable[[], Awaitable[None]]) -> None:
    try:
        await flush()
    except Exception:
        logger.exception("flush on SIGTERM failed")
