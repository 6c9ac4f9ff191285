"""The streaming upstream call for the attempt loop (:meth:`switchyard.routing.attempt.Router.run`).

:func:`open_stream` opens the provider's stream and reads it up to its first token before
returning, so that everything that can fail before a client sees output (connect errors, error
statuses, a stall or a dropped connection before the first token, an error event right after the
role chunk) is raised inside the loop, which retries or fails over as the error table says. What it
returns is past that point: failures after it end the client's stream with an error event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Provider, Target


@dataclass(slots=True)
class OpenedStream:
    """An upstream stream that has produced its first token.

    ``head`` holds the chunks read so far (a role chunk, then the one with the first token, or
    everything when the answer was empty); ``rest`` yields the remainder and must be closed
    (:meth:`aclose`) on every path, which closes the upstream connection if it is still open.
    """

    head: list[ChatCompletionChunk]
    rest: AsyncGenerator[ChatCompletionChunk]
    target: Target

    async def aclose(self) -> None:
        await self.rest.aclose()


async def open_stream(provider: Provider, request: ChatRequest, target: Target) -> OpenedStream:
    """Raises as ``provider.stream`` does before the first token, and a TIMEOUT ProviderError when
    none came within ``target.timeout_s`` (an upstream that only sends keep-alives must not hold
    the attempt forever); the upstream is closed then."""
    chunks = provider.stream(request, target)
    head: list[ChatCompletionChunk] = []
    try:
        async with asyncio.timeout(target.timeout_s):
            async for chunk in chunks:
                head.append(chunk)
                if chunk.carries_token:
                    break
    except TimeoutError as exc:
        await chunks.aclose()
        raise ProviderError(Kind.TIMEOUT, "The upstream provider sent no output in time.") from exc
    except BaseException:
        # Failed (or cancelled: the client left) before the first token: nothing may stay open.
        await chunks.aclose()
        raise
    return OpenedStream(head, chunks, target)
