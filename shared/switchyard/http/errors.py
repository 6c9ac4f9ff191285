"""Mapping the error taxonomy to HTTP responses in the caller's dialect (one place)."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

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


def from_validation(exc: ValidationError) -> InvalidRequestError:
    """The first problem of a pydantic error, with its location as ``param``."""
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return InvalidRequestError(
            f"The request body is not valid JSON: {first['msg']}.", code="invalid_json"
        )
    loc = ".".join(str(p) for p in first["loc"])
    return InvalidRequestError(f"Invalid value for `{loc}`: {first['msg']}.", param=loc or None)


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
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = (
        f"Invalid value for `{loc}`: {first.get('msg')}." if loc else f"Invalid request: {first.get('msg')}."
    )
    return await handle_switchyard_error(request, InvalidRequestError(message, param=loc or None))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback (never upstream keys, which live only in Target.api_key),
    answer a generic 500 that reveals nothing."""
    logger.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
    # ServerErrorMiddleware sits outside RequestContextMiddleware, so the id header is set here.
    request_id = getattr(request.state, "request_id", None)
    headers = {"x-request-id": request_id} if request_id else None
    err = SwitchyardError("The gateway failed to process the request.", kind=Kind.INTERNAL, headers=headers)
    return error_response(err, request.url.path)
