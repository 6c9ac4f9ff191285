"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from switchyard.api.requests import CanonicalRequest
from switchyard.compose.gateway import Gateway
from switchyard.config.settings import RouterSettings
from switchyard.core import Call
from switchyard.errors import PermissionDeniedError
from switchyard.signing import HEADER as SIGNATURE_HEADER


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


def request_headers(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict, made once a request: the key check and the stages
    look up several names that are usually absent, and a missing name in Starlette's ``Headers``
    costs a scan of every header and a ``KeyError``. A repeated name keeps its first value, as
    ``Headers.get`` gives it; ASGI servers send names in lower case."""
    state = request.state
    found: dict[str, str] | None = getattr(state, "headers", None)
    if found is None:
        # Reversed, so that a repeated name's first value is the one left standing.
        raw = reversed(request.scope["headers"])
        found = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
        state.headers = found
    return found


async def require_client_key(request: Request) -> None:
    """Attached per router: every /v1 route needs a valid client key (a virtual key or the
    master key), and a POST a valid signature of its raw body when the key or its tenant
    requires signed requests (401 ``invalid_signature``, docs/signing.md)."""
    headers = request_headers(request)
    key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    gateway = gateway_of(request)
    identity = await gateway.auth.authenticate(key)
    if request.method == "POST":  # what spends or submits work: signed when the key requires it
        await gateway.signing.check(identity, headers.get(SIGNATURE_HEADER), request.body)
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


def call_of(request: Request, body: CanonicalRequest) -> Call:
    """The pipeline's call for an authenticated request whose body is ``body`` (canonical)."""
    state = request.state
    return Call(body, state.key_id, state.request_id, state.identity, request_headers(request))
