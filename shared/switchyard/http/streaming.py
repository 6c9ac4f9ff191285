"""Streamed answers (``stream: true``) on every route, in the caller's dialect.

The attempt loop runs with :func:`switchyard.routing.stream.open_stream` as its upstream call, so
retries, failover and breakers apply until the first token; failures there are ordinary HTTP errors
(status, JSON body, ``Retry-After``). Only then do headers go out, with what is known at that point
(provider, model, deployment, attempts); the cost follows at the end as an SSE comment. After the
first token a provider failure ends the stream with an error event in the dialect (and counts
against the deployment's breaker), never a silent truncation.

Every way a stream ends (complete, failed, client gone: the server cancels the response task)
goes through :meth:`StreamSession.close`, which closes the upstream call and records usage
(partial unless the stream completed) through the same :class:`~switchyard.accounting.Accounting`
as buffered answers.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from time import perf_counter

import anyio
from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from switchyard.accounting import StreamUsage, UsageRecord
from switchyard.api.chat import ChatRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.cost import format_usd
from switchyard.errors import Kind, ProviderError, SwitchyardError
from switchyard.gateway import Gateway
from switchyard.http.deps import gateway_of
from switchyard.http.sse import StreamWriter
from switchyard.observability import logger
from switchyard.routing.attempt import Outcome
from switchyard.routing.stream import OpenedStream, open_stream
from switchyard.serving import routing_headers

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def stream_answer(
    request: Request, body: ChatRequest, writer: StreamWriter, headers: Mapping[str, str] | None = None
) -> Response:
    """Route ``body`` and answer with an SSE stream written by ``writer``, with ``headers`` (the
    gate's cache and rate-limit headers) added. Raises as ``Router.run`` does while nothing has
    been sent."""
    started = perf_counter()
    gateway = gateway_of(request)
    outcome = await gateway.router.run(body, gateway.settings.request_timeout_s, open_stream)
    try:
        session = StreamSession(gateway, body, outcome, writer, request.state.request_id, started)
        return SSEResponse(session, headers={**stream_headers(outcome), **(headers or {}), **SSE_HEADERS})
    except BaseException:
        await outcome.result.aclose()
        raise


def stream_headers(outcome: Outcome[OpenedStream]) -> dict[str, str]:
    # The cost is only known at the end: it goes out as the stream's closing SSE comment.
    return {**routing_headers(outcome), "x-switchyard-cache": "skip"}


class StreamSession:
    """One streamed answer: writes chunks, ends the stream, closes the upstream, accounts usage."""

    def __init__(
        self,
        gateway: Gateway,
        request: ChatRequest,
        outcome: Outcome[OpenedStream],
        writer: StreamWriter,
        request_id: str,
        started: float,
    ) -> None:
        self._gateway = gateway
        self._request = request
        self._outcome = outcome
        self._writer = writer
        self._request_id = request_id
        self._started = started
        self._usage = StreamUsage()
        self._recorded = False
        self.body = self._body()

    async def _body(self) -> AsyncGenerator[bytes]:
        opened = self._outcome.result
        try:
            # Everything read before the first token goes out in one write.
            first = b"".join([self._write(chunk) for chunk in opened.head])
            if first:
                yield first
            async for chunk in opened.rest:
                data = self._write(chunk)
                if data:
                    yield data
        except ProviderError as exc:
            yield await self._failed(exc)
            return
        except Exception:
            logger.exception("stream failed", extra={"request_id": self._request_id})
            yield await self._failed(
                SwitchyardError("The gateway failed while streaming the answer.", kind=Kind.INTERNAL)
            )
            return
        record = await self._account(partial=False)
        yield self._writer.end(record.usage, format_usd(record.cost_usd))

    def _write(self, chunk: ChatCompletionChunk) -> bytes:
        self._usage.observe(chunk)
        return self._writer.chunk(chunk)

    async def _failed(self, exc: SwitchyardError) -> bytes:
        """The closing error event after a failure past the first token (not retried: the client
        already has part of the answer)."""
        deployment = self._outcome.candidate.deployment_id
        if isinstance(exc, ProviderError):
            if exc.policy.trips_breaker:
                await self._gateway.breakers.failure(deployment)
            exc = ProviderError(exc.kind, f"The stream was interrupted after it began: {exc.message}")
        logger.info(
            "stream interrupted",
            extra={"request_id": self._request_id, "deployment": deployment, "kind": exc.kind.value},
        )
        self._gateway.metrics.requests.stream_failed(exc, exc.status)
        record = await self._account(partial=True)
        return self._writer.error(exc, format_usd(record.cost_usd))

    async def _account(self, *, partial: bool) -> UsageRecord:
        self._recorded = True
        usage, estimated = self._usage.final(self._request)
        # Shielded: a client leaving while the sinks are written must not lose the record.
        with anyio.CancelScope(shield=True):
            record = await self._gateway.accounting.record(
                self._outcome.candidate,
                usage,
                request_id=self._request_id,
                attempts=self._outcome.attempts,
                latency_s=perf_counter() - self._started,
                streamed=True,
                partial=partial,
                estimated=estimated,
            )
        # The deployment's limit grant settles with the real tokens, as a buffered answer's does,
        # which also frees its concurrency slot now rather than when the session is collected.
        self._outcome.grant.settle(usage.total_tokens if usage is not None else None)
        return record

    async def close(self) -> None:
        """Idempotent; runs however the response ended. A stream that did not finish (the client
        went away) is accounted as partial, from what was sent so far."""
        await self.body.aclose()
        await self._outcome.result.aclose()
        if not self._recorded:
            await self._account(partial=True)


class SSEResponse(StreamingResponse):
    """A StreamingResponse (which cancels the body when the client disconnects) that sends its
    first bytes at once and always closes its session, shielded from that cancellation."""

    def __init__(self, session: StreamSession, headers: dict[str, str]) -> None:
        super().__init__(session.body, media_type="text/event-stream", headers=headers)
        self._session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # Headers and the first chunks go out from this task, before Starlette spawns the task
            # that writes the rest while this one watches for a disconnect: ~0.1 ms off the time
            # to first byte.
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            first = await anext(self._session.body, b"")
            await send({"type": "http.response.body", "body": first, "more_body": True})
            await super().__call__(scope, receive, _after_start(send))
        finally:
            with anyio.CancelScope(shield=True):
                await self._session.close()


def _after_start(send: Send) -> Send:
    """``send`` for Starlette's streaming once the response has started: its own start is dropped."""

    async def sender(message: Message) -> None:
        if message["type"] != "http.response.start":
            await send(message)

    return sender
