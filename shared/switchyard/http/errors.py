"""Mapping the error taxonomy to HTTP responses in the caller's dialect (one place)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from switchyard.api.errors import (
    AnthropicErrorBody,
    AnthropicErrorDetail,
    OpenAIErrorBody,
    OpenAIErrorDetail,
)
from switchyard.errors import InfrastructureError, InvalidRequestError, Kind, SwitchyardError
from switchyard.observability import logger

Dialect = Literal["openai", "anthropic"]


def error_dialect(path: str) -> Dialect:
    return "anthropic" if path.startswith("/v1/messages") else "openai"


def error_body(exc: SwitchyardError, dialect: Dialect) -> bytes:
    if dialect == "anthropic":
        anthropic = AnthropicErrorDetail(type=exc.anthropic_type, message=exc.message)
        return AnthropicErrorBody(error=anthropic).model_dump_json().encode()
    detail = OpenAIErrorDetail(
        message=exc.message, type=exc.policy.error_type, code=exc.code, param=exc.param
    )
    return OpenAIErrorBody(error=detail).model_dump_json().encode()


def error_response(exc: SwitchyardError, path: str) -> Response:
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return Response(
        error_body(exc, error_dialect(path)),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )


async def send_error(scope: Scope, send: Send, exc: SwitchyardError) -> None:
    """The error as a whole ASGI response, for pure ASGI middleware that refuses before the app."""
    body = error_body(exc, error_dialect(scope["path"]))
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def from_validation(exc: ValidationError) -> InvalidRequestError:
    """The first problem of a pydantic error, with its location as ``param``."""
    return body_error(exc.errors(include_url=False))


# What a JSON value that is not an object is, for the message that names it.
_JSON_KINDS: tuple[tuple[type, str], ...] = (
    (list, "an array"),
    (str, "a string"),
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (type(None), "null"),
)


def body_error(errors: Sequence[Any], *, prefix: tuple[str, ...] = ()) -> InvalidRequestError:
    """The first of pydantic's (or FastAPI's) ``errors`` as our 400, its location as ``param``
    (``prefix``, e.g. FastAPI's ``body``, left out). A body that is not a JSON object is named
    as such: ``Invalid value for ``…`` would name nothing."""
    first: Mapping[str, Any] = errors[0] if errors else {"type": "missing", "loc": ()}
    where = tuple(first.get("loc", ()))
    if where[: len(prefix)] == prefix:
        where = where[len(prefix) :]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error") or first.get("msg")
        return InvalidRequestError(f"The request body is not valid JSON: {detail}.", code="invalid_json")
    if where:
        loc = ".".join(str(p) for p in where)
        return InvalidRequestError(f"Invalid value for `{loc}`: {first.get('msg')}.", param=loc)
    if first.get("type") == "missing" or "input" not in first:
        return InvalidRequestError("The request body is missing: send a JSON object.", code="invalid_body")
    kind = next((name for t, name in _JSON_KINDS if isinstance(first["input"], t)), None)
    if kind is not None:
        return InvalidRequestError(
            f"The request body must be a JSON object, not {kind}.", code="invalid_body"
        )
    return InvalidRequestError(f"Invalid request body: {first.get('msg')}.", code="invalid_body")


async def handle_switchyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwitchyardError)
    request.state.error = exc  # its kind, for the Errors metric (switchyard.metrics.asgi)
    extra = {
        "request_id": request.state.request_id,
        "path": request.url.path,
        "status": exc.status,
        "kind": exc.kind.value,
        "code": exc.code,
    }
    if isinstance(exc, InfrastructureError):
        extra["detail"] = exc.detail  # which store failed and how: for the log, not the caller
    logger.info("request failed", extra=extra)
    return error_response(exc, request.url.path)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 in our error shape."""
    assert isinstance(exc, HTTPException)
    kind = Kind.NOT_FOUND if exc.status_code == 404 else Kind.INVALID_REQUEST
    err = SwitchyardError(
        f"{request.method} {request.url.path}: {exc.detail}", kind=kind, code=str(exc.status_code)
    )
    response = error_response(err, request.url.path)
    response.status_code = exc.status_code
    return response


async def handle_request_validation(request: Request, exc: Exception) -> Response:
    """A body or query FastAPI validated (admin and jobs routes) that failed: 400 in our shape,
    not FastAPI's 422 ``detail`` list."""
    assert isinstance(exc, RequestValidationError)
    return await handle_switchyard_error(request, body_error(exc.errors(), prefix=("body",)))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback (never upstream keys, which live only in Target.api_key),
    answer a generic 500 that reveals nothing."""
    logger.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
    # ServerErrorMiddleware sits outside RequestContextMiddleware, so the id header is set here.
    request_id = getattr(request.state, "request_id", None)
    headers = {"x-request-id": request_id} if request_id else None
    err = SwitchyardError("The gateway failed to process the request.", kind=Kind.INTERNAL, headers=headers)
    return error_response(err, request.url.path)
