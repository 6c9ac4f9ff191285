"""SIGTERM (Lambda's notice before it reclaims an instance) starts the gateway's flush at once,
and still reaches the handler it found (uvicorn's graceful stop)."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

from switchyard.http.usage_flush import flush_on_sigterm


async def test_sigterm_starts_the_flush_and_reaches_the_previous_handler() -> None:
    seen: list[int] = []
    flushed = asyncio.Event()

    def previous(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    async def flush() -> None:
        flushed.set()

    before = signal.signal(signal.SIGTERM, previous)
    try:
        async with flush_on_sigterm(flush):
            signal.raise_signal(signal.SIGTERM)
            await asyncio.wait_for(flushed.wait(), timeout=30)
            assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is previous  # given back when the app stops
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_the_context_ends_after_the_flush_it_started() -> None:
    """So that the shutdown's own flush cannot write the same settlements a second time."""
    order: list[str] = []
    release = asyncio.Event()

    async def flush() -> None:
        await release.wait()
        order.append("flushed")

    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        async with flush_on_sigterm(flush):
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0)
            asyncio.get_running_loop().call_later(0.01, release.set)
        order.append("closed")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert order == ["flushed", "closed"]
