"""The ASGI application: the one HTTP surface that uvicorn serves locally and in Lambda (behind the
Lambda Web Adapter)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from time import time

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from switchyard import __version__
from switchyard.compose.gateway import open_gateway
from switchyard.config.settings import RouterSettings
from switchyard.errors import SwitchyardError
from switchyard.http.admin import router as admin_router
from switchyard.http.cache import router as admin_cache_router
from switchyard.http.chat import router as chat_router
from switchyard.http.content_type import JsonBodyMiddleware
from switchyard.http.conversations import router as conversations_router
from switchyard.http.embeddings import router as embeddings_router
from switchyard.http.errors import (
    handle_http_exception,
    handle_request_validation,
    handle_switchyard_error,
    handle_unexpected,
)
from switchyard.http.jobs import router as jobs_router
from switchyard.http.messages import router as messages_router
from switchyard.http.meta import health_router, models_router
from switchyard.http.middleware import RequestContextMiddleware
from switchyard.http.openapi import install_docs
from switchyard.http.personas import router as personas_router
from switchyard.http.usage import admin_router as admin_usage_router
from switchyard.http.usage import client_router as usage_router
from switchyard.http.usage_flush import FlushDueUsage, flush_on_sigterm
from switchyard.metrics.asgi import RequestMetricsMiddleware


def create_app(
    settings: RouterSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time,
) -> FastAPI:
    """Builds the app; the gateway itself (config, clients) is opened by the lifespan, so that
    creating the app does no I/O and a bad config fails the server's start-up, not a request.
    ``clock`` (wall time, for shared state) is for tests and benchmarks."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = await open_gateway(settings, transport=transport, clock=clock)
        app.state.gateway = gateway
        app.state.settings = settings  # the router's own (the gateway holds what it shares)
        # Everything built so far lives as long as the process: moving it out of the collector's
        # reach keeps full collections, which otherwise walk every imported module and model
        # schema, from landing as multi-millisecond pauses in the tail latency of a request. No
        # full collection first: it found ~60 garbage objects among ~97,000 and cost ~60-100 ms of
        # init CPU (0.4-0.7 s at 256 MB's CPU share) to free them.
        gc.freeze()
        try:
            async with flush_on_sigterm(gateway.flush):
                yield
        finally:
            await gateway.aclose()

    app = FastAPI(title="Switchyard", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)  # /docs, /redoc and /openapi.json, offline
    app.add_middleware(JsonBodyMiddleware)  # innermost: its 415 gets the request id too
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(FlushDueUsage)  # a request arriving at a thawed instance writes old usage
    app.add_middleware(RequestMetricsMiddleware)  # added last: outside the 413 check, sees it
    app.add_exception_handler(SwitchyardError, handle_switchyard_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_request_validation)
    app.add_exception_handler(Exception, handle_unexpected)
    app.include_router(chat_router)
    app.include_router(messages_router)
    app.include_router(embeddings_router)
    app.include_router(jobs_router)
    app.include_router(conversations_router)
    app.include_router(models_router)
    app.include_router(health_router)
    app.include_router(admin_router)
    app.include_router(personas_router)
    app.include_router(admin_usage_router)
    app.include_router(admin_cache_router)
    app.include_router(usage_router)
    return app
