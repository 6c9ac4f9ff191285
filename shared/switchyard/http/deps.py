"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from switchyard.gateway import Gateway
from switchyard.keys.client_auth import presented_key
from switchyard.keys.ids import key_id


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def require_client_key(request: Request) -> None:
    """Attached per router: every /v1 route needs a valid client key."""
    headers = request.headers
    key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    gateway_of(request).auth.check(key)
    assert key is not None  # check() refuses a missing key
    # Limits, cache namespaces and usage name the key by this id, never by the key itself.
    request.state.key_id = key_id(key)
