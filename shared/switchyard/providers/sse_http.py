"""Opening an upstream SSE stream: the streaming twin of :func:`switchyard.providers.http.post_json`.

Two clocks bound a stream. Until the first bytes of the body arrive the call has
``target.timeout_s`` (the attempt's share of the request deadline); after that every read must
come within ``target.stream_idle_timeout_s`` of the previous one, so a stalled upstream ends with a
TIMEOUT ProviderError instead of a hang. The timers wrap each read only, never a ``yield``: a timer
armed while the consumer holds control would cancel the consumer's own awaits.

The response is closed on every path (normal end, error, ``aclose`` of the generator, and
cancellation when the client goes away), which for the aiohttp transport closes the upstream
connection when the body was not read to its end, so the provider stops generating.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing

import httpx

from switchyard import __version__
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.classify import classify_status, classify_transport
from switchyard.providers.http import Upstream, parsed_url
from switchyard.providers.sse import SSEDecoder, SSEEvent


def stream_timeouts(target: Target) -> httpx.Timeout:
    # Reads are timed here (first bytes, then idle), not by the transport: its read timeout would
    # be one number for both phases.
    connect = min(target.connect_timeout_s, target.timeout_s)
    return httpx.Timeout(connect=connect, read=None, write=target.timeout_s, pool=target.timeout_s)


# A failed answer (status, body, headers) as the error to raise.
StatusClassifier = Callable[[int, bytes, Mapping[str, str]], ProviderError]

_HEADERS = {
    "content-type": "application/json",
    "accept": "text/event-stream",
    "user-agent": f"switchyard/{__version__}",
}


def stream_timeout(target: Target, *, started: bool) -> ProviderError:
    """The TIMEOUT error for a stream that went silent (``started``) or never began."""
    if not started:
        return ProviderError(Kind.TIMEOUT, "The upstream provider did not answer in time.")
    return ProviderError(
        Kind.TIMEOUT,
        f"The upstream provider stopped sending for {target.stream_idle_timeout_s:g} s in a stream.",
    )


async def open_sse(
    client: Upstream,
    target: Target,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> AsyncGenerator[SSEEvent]:
    """POST ``body`` and yield the answer's SSE events; any failure becomes a classified
    ProviderError (a non-2xx status as for buffered calls, a dropped connection ``bad_response``,
    silence past either clock ``timeout``). Use it inside ``contextlib.aclosing``."""
    request = httpx.Request(
        "POST",
        parsed_url(url),
        content=body,
        headers={**headers, **_HEADERS},
        extensions={"timeout": stream_timeouts(target).as_dict()},
    )
    decoder = SSEDecoder()
    async with aclosing(stream_body(client, target, request)) as chunks:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event
    for event in decoder.flush():
        yield event


async def stream_body(
    client: Upstream,
    target: Target,
    request: httpx.Request,
    *,
    classify: StatusClassifier = classify_status,
) -> AsyncGenerator[bytes]:
    """Send ``request`` and yield its 2xx body as it arrives, under the two clocks; a non-2xx
    answer is raised as ``classify`` says. The response is closed on every path. Use it inside
    ``contextlib.aclosing``; the request should carry :func:`stream_timeouts`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + target.timeout_s
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.send(request)
    except TimeoutError as exc:
        raise stream_timeout(target, started=False) from exc
    except httpx.HTTPError as exc:
        raise classify_transport(exc) from exc
    started = False
    try:
        if response.status_code >= 300:
            async with asyncio.timeout_at(deadline):
                content = await response.aread()
            raise classify(response.status_code, content, response.headers)
        chunks = aiter(response.aiter_bytes())
        while True:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks, None)
            if chunk is None:
                break
            started = True
            deadline = loop.time() + target.stream_idle_timeout_s
            yield chunk
    except TimeoutError as exc:
        raise stream_timeout(target, started=started) from exc
    except httpx.HTTPError as exc:
        raise classify_transport(exc) from exc
    finally:
        await response.aclose()
