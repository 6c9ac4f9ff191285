"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a queue per request).

Gives every request an id, echoed as ``x-request-id`` on every response including errors, and
refuses bodies over the limit with 413 before anything parses them. The id is the caller's
``x-request-id`` when it is safe, else API Gateway's request id (which the Lambda Web Adapter
passes on in ``x-amzn-request-context``), so one id finds a request in the API's access logs and
in the router's; else a new one.

It is also the last guard of every response's headers: a value that is not a valid header value
(a control character; the wire models refuse such input with a 400 before anything echoes it)
would make uvicorn drop the connection without a response, so such a header is left out, and
logged, instead.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.errors import PayloadTooLargeError
from switchyard.http.errors import send_error
from switchyard.observability import logger

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The request context is JSON; a search for one field costs far less than parsing it.
_CONTEXT_ID = re.compile(rb'"requestId"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')
# What uvicorn refuses in a header value (it closes the connection instead of answering).
_UNSAFE_VALUE = re.compile(rb"[\x00-\x1f\x7f]")


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes.", param=None)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*_valid_headers(message.get("headers", ())), id_header]
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await send_error(scope, send_with_id, _too_large(self.max_body_bytes))
            return
        await self.app(scope, self._counting(receive) if declared is None else receive, send_with_id)

    def _counting(self, receive: Receive) -> Receive:
        """A chunked body has no Content-Length: count as it arrives and stop at the limit."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _too_large(self.max_body_bytes)
            return message

        return counted


def _valid_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    listed = list(headers)
    if _UNSAFE_VALUE.search(b" ".join([value for _, value in listed])) is None:
        return listed  # the usual case, in one scan
    kept = []
    for name, value in listed:
        if _UNSAFE_VALUE.search(value) is None:
            kept.append((name, value))
        else:
            logger.error("response header left out: invalid value", extra={"header": name.decode("latin-1")})
    return kept


def _request_id(scope: Scope) -> str:
    context = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
        elif name == b"x-amzn-request-context":
            context = value
    found = _CONTEXT_ID.search(context) if context is not None else None
    return found.group(1).decode() if found else uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
