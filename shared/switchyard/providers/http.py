"""The one pooled upstream connection (:class:`Upstream`), and the request helper every adapter
uses.

Requests go straight to an httpx transport (aiohttp in production, ``httpx.MockTransport`` in
tests) through its public ``handle_async_request``: ``AsyncClient.send`` would add per-call
cookie extraction (urllib-based), auth and redirect loops, none of which the gateway uses, at
~0.15 ms per upstream call. Every request carries its own timeout in its ``extensions``.
"""

from __future__ import annotations

from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic_core import to_json

from switchyard.providers.base import Target
from switchyard.providers.classify import classify_status, classify_transport

DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30)


class Upstream:
    """The pooled transport every provider adapter sends through."""

    __slots__ = ("_transport",)

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The response with its body unread: the caller reads and closes it. Raises what the
        transport raises (``httpx.HTTPError``)."""
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def build_client(transport: httpx.AsyncBaseTransport | None = None) -> Upstream:
    """The aiohttp transport by default (~0.4 ms less per call and ~1.7x the throughput of httpx's
    default transport, measured here). Tests pass ``httpx.MockTransport``."""
    if transport is None:
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=DEFAULT_LIMITS, trust_env=False)
    return Upstream(transport)


def timeout_for(target: Target) -> httpx.Timeout:
    connect = min(target.connect_timeout_s, target.timeout_s)
    return httpx.Timeout(target.timeout_s, connect=connect)


@lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """Parsing a URL is a visible share of httpx's per-request cost; upstream URLs repeat."""
    return httpx.URL(url)


async def post_json(
    client: Upstream,
    target: Target,
    url: str,
    body: bytes | dict[str, Any],
    headers: dict[str, str],
) -> bytes:
    """POST ``body`` (JSON bytes, or a dict serialized by pydantic-core) and return the raw 2xx
    body; any failure becomes a classified ProviderError.

    The URL and headers (which hold the key) never go into the error; the upstream's own message
    reaches it only scrubbed (see ``classify.scrub``).
    """
    content = body if isinstance(body, bytes) else to_json(body)
    request = httpx.Request(
        "POST",
        parsed_url(url),
        content=content,
        headers={**headers, "content-type": "application/json"},
        extensions={"timeout": timeout_for(target).as_dict()},
    )
    try:
        response = await client.send(request)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        raise classify_transport(exc) from exc
    if response.status_code >= 300:
        raise classify_status(response.status_code, raw, response.headers)
    return raw


def base_url(target: Target, default: str) -> str:
    return (target.base_url or default).rstrip("/")
