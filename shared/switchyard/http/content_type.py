"""Which bodies the API reads: JSON only (docs/api.md).

Every route that takes a body takes a JSON object: a ``POST``, ``PUT`` or ``PATCH`` with a body
must say ``Content-Type: application/json`` (any parameters, e.g. ``charset=utf-8``, and any
``application/*+json``), or say nothing, when the body is read as JSON all the same (what a
client that sets no header means). Any other declared type is refused with 415
``unsupported_media_type`` in the route's own error shape before the body is read, instead of
being parsed as JSON by accident (``curl -d`` declares a form) or answered with FastAPI's 422.
A request without a body is left to its route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.errors import UnsupportedMediaTypeError
from switchyard.http.errors import send_error

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WITH_BODY:
            declared = _declared(scope)
            if declared is not None and _has_body(scope) and not is_json(declared):
                await _refuse(scope, send, declared)
                return
        await self.app(scope, receive, send)


def _declared(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            text: str = value.decode("latin-1")
            return text
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


async def _refuse(scope: Scope, send: Send, declared: str) -> None:
    media = declared.split(";", 1)[0].strip()[:100] or "(empty)"
    exc = UnsupportedMediaTypeError(
        f"Content-Type {media} is not supported: send the body as JSON with "
        "Content-Type: application/json (curl: -H 'Content-Type: application/json').",
        param="Content-Type",
    )
    await send_error(scope, send, exc)
