"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from switchyard.api.chat import ChatRequest
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.core import Call
from switchyard.errors import PermissionDeniedError


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from ``Authorization: Bearer …`` or ``x-api-key`` (the Anthropic SDK's header)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None


def router_settings(request: Request) -> RouterSettings:
    settings: RouterSettings = request.app.state.settings
    return settings


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def require_client_key(request: Request) -> None:
    """Attached per router: every /v1 route needs a valid client key (a virtual key or the
    master key)."""
    headers = request.headers
    key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    identity = await gateway_of(request).auth.authenticate(key)
    # Limits, cache namespaces and usage name the key by this id, never by the key itself.
    request.state.key_id = identity.key_id
    request.state.identity = identity


async def require_admin_key(request: Request) -> None:
    """Attached to the /admin routers: only the master key. A valid virtual key gets 403."""
    headers = request.headers
    key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    auth = gateway_of(request).auth
    if await auth.is_admin(key):
        return
    await auth.authenticate(key)  # 401 for a missing or invalid key
    raise PermissionDeniedError("This route needs the admin key.", code="admin_key_required")


def call_of(request: Request, body: ChatRequest) -> Call:
    """The pipeline's call for an authenticated request whose body is ``body`` (canonical)."""
    state = request.state
    return Call(body, state.key_id, state.request_id, state.identity, request.headers)
