"""The API's description: ``/openapi.json`` and Swagger UI at ``/docs`` (ReDoc at ``/redoc``).

Both work offline: the Swagger UI and ReDoc assets are served by the gateway itself, from the
``fastapi-offline`` package (``/docs/static/…``), never from a CDN. The document is FastAPI's,
completed here (the routes stay thin): the request bodies the routes parse themselves (chat,
messages, jobs) as components, so that every ``$ref`` resolves; the bearer and ``x-api-key``
security schemes, so that "Authorize" works; the error statuses each route really answers, in
its dialect's error shape (400 for bad input: the API never answers FastAPI's 422); and a
summary and description for every operation (:mod:`switchyard.http.openapi_routes`).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from switchyard.api.anthropic import AnthropicRequest, AnthropicResponse
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.errors import AnthropicErrorBody, OpenAIErrorBody
from switchyard.http.openapi_routes import (
    DESCRIPTION,
    ERROR_TEXT,
    OPERATIONS,
    PUBLIC_PATHS,
    REQUEST_BODIES,
    TAGS,
)
from switchyard.jobs.schema import ChatJobSpec, JobBatch, MessagesJobSpec

STATIC_URL = "/docs/static"
_REF = "#/components/schemas/{model}"
# Models the routes parse or answer themselves: FastAPI cannot see them.
_MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (ChatRequest, "validation"),
    (AnthropicRequest, "validation"),
    (JobBatch, "validation"),
    (ChatJobSpec, "validation"),
    (MessagesJobSpec, "validation"),
    (ChatCompletion, "serialization"),
    (AnthropicResponse, "serialization"),
    (OpenAIErrorBody, "serialization"),
    (AnthropicErrorBody, "serialization"),
)
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A client key (`sk-sy-…`) or the master key: `Authorization: Bearer <key>`. "
        "`/admin` routes need the master key.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The same key in `x-api-key`, as the Anthropic SDK sends it.",
    },
}


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets, and build ``/openapi.json`` with
    :func:`document` (once, on first request). ``app`` is made with ``docs_url=None,
    redoc_url=None``."""
    app.mount(STATIC_URL, StaticFiles(directory=str(assets_dir())), name="docs-static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


def assets_dir() -> Any:
    """Swagger UI's and ReDoc's files as ``fastapi-offline`` ships them (a test checks they are
    there, so a release that moves them fails here, not in a browser)."""
    return files("fastapi_offline") / "static"


def document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes, tags=TAGS
    )
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(_MODELS, ref_template=_REF)
    for name, schema in defs.get("$defs", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas named {name!r} in the OpenAPI document")
        schemas[name] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            _complete(path, method.upper(), operation)
    return doc


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    meta = OPERATIONS.get((method, path))
    if meta is not None:
        operation["summary"], operation["description"] = meta.summary, meta.description
    if (method, path) in REQUEST_BODIES:
        operation["requestBody"] = REQUEST_BODIES[(method, path)]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if meta is not None:
        responses.update(meta.extra_responses)
        error = "AnthropicErrorBody" if path.startswith("/v1/messages") else "OpenAIErrorBody"
        for status in meta.errors:
            responses[str(status)] = {
                "description": ERROR_TEXT[status],
                "content": {"application/json": {"schema": {"$ref": _REF.format(model=error)}}},
            }
    if path not in PUBLIC_PATHS:
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
    if not operation.get("tags"):
        operation["tags"] = ["health" if path.startswith("/health") else "inference"]
