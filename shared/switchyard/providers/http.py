"""The one pooled upstream HTTP client, and the request helper every adapter uses."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import httpx
from pydantic_core import to_json

from switchyard.providers.base import Target
from switchyard.providers.classify import classify_status, classify_transport

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30)


def build_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A shared AsyncClient on the aiohttp transport (DESIGN §2: ~0.4 ms less per call and ~1.7x
    the throughput of httpx's default transport). Tests pass ``httpx.MockTransport``."""
    if transport is None:
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=DEFAULT_LIMITS, trust_env=False)
    # Every request passes its own timeout (``timeout_for``); this default only guards a call
    # that forgets to.
    return httpx.AsyncClient(transport=transport, timeout=DEFAULT_TIMEOUT, follow_redirects=False)


def timeout_for(target: Target) -> httpx.Timeout:
    connect = min(target.connect_timeout_s, target.timeout_s)
    return httpx.Timeout(target.timeout_s, connect=connect)


@lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """Parsing a URL is a visible share of httpx's per-request cost; upstream URLs repeat."""
    return httpx.URL(url)


async def post_json(
    client: httpx.AsyncClient,
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
        response = await send_direct(client, request)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        raise classify_transport(exc) from exc
    if response.status_code >= 300:
        raise classify_status(response.status_code, raw, response.headers)
    return raw


async def send_direct(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send through the client's own transport (aiohttp in production, MockTransport in tests),
    skipping ``AsyncClient.send``: its per-call cookie extraction (urllib-based), auth and
    redirect loops, none of which the gateway uses, cost ~0.15 ms per upstream call. The request
    carries its own timeout in ``extensions``; the response must be read and closed by the caller.
    """
    response = await client._transport_for_url(request.url).handle_async_request(request)
    response.request = request
    return response


def base_url(target: Target, default: str) -> str:
    return (target.base_url or default).rstrip("/")
