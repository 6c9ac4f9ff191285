"""Requests, Errors and Latency of the model routes, observed at the edge of the ASGI app.

Pure ASGI (no BaseHTTPMiddleware, which costs a task per request). Placed outside every other
middleware, so that it also sees the 413 the body-size check answers and the exceptions that only
Starlette's outermost error middleware turns into a 500. The error handler leaves the exception it
answered in the request state (``error``), which gives the error its taxonomy kind.

Latency is measured to the response's start: the whole answer when buffered, the first token when
streamed (a stream's full length says more about the answer's length than about the gateway).
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from switchyard.metrics.requests import RequestMetrics

# The routes that answer with a model: what Requests, Errors and Latency count. Health probes,
# admin and job polling would only dilute the error rate and the latency percentiles.
MODEL_PATHS = frozenset(
    {"/v1/chat/completions", "/chat/completions", "/v1/messages", "/v1/embeddings", "/embeddings"}
)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, paths: frozenset[str] = MODEL_PATHS) -> None:
        self.app = app
        self._paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return
        metrics = _metrics_of(scope)
        if metrics is None:  # no gateway yet (start-up failed): nothing to count into
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 0

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                error = scope.get("state", {}).get("error") if status >= 400 else None
                metrics.request((perf_counter() - started) * 1000.0, status, error)
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception as exc:
            if not status:  # the outermost middleware answers it with a 500
                metrics.request((perf_counter() - started) * 1000.0, 500, exc)
            raise


def _metrics_of(scope: Scope) -> RequestMetrics | None:
    # Looked up per request, not kept: the gateway is opened (and may be reopened) by the lifespan.
    app: Any = scope.get("app")
    gateway = getattr(getattr(app, "state", None), "gateway", None)
    return None if gateway is None else gateway.metrics.requests
