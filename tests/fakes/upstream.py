"""A fake upstream LLM provider: a real HTTP server on 127.0.0.1 for integration and e2e tests.

One aiohttp server (its own thread and event loop, a free port) serves any number of independent
test "providers", each under its own path prefix ``/<name>``:

    POST /<name>/v1/chat/completions   OpenAI Chat Completions (JSON, or SSE with ``stream: true``)
    POST /<name>/v1/messages           Anthropic Messages (JSON, or SSE events)
    POST /<name>/v1/embeddings         OpenAI Embeddings (one vector per input, floats or base64)
    POST /<name>/v1/moderations        OpenAI moderations (``Reply.moderation(...)`` flags; ok: none)
    GET  /<name>/v1/models             OpenAI model list
    POST /<name>/model/<id>/converse   Amazon Bedrock Converse (and ``converse-stream``: the binary
                                       event stream), SigV4 checked (:mod:`fakes.bedrock`)
    POST /<name>/model/<id>/invoke     Bedrock InvokeModel for embeddings (Titan Text Embeddings,
                                       Cohere Embed v3), SigV4 checked, one reply per call

Any other path under ``/<name>/`` that ends like one of these is served the same way, so a
provider's own URL shape (Azure's ``/openai/deployments/<d>/chat/completions?api-version=…``,
Cloudflare's ``/client/v4/accounts/<id>/ai/v1/chat/completions``) can be kept as configured.

Each name has a queue of scripted :class:`Reply` values, consumed one per completion call, then a
default (a valid completion unless :meth:`FakeUpstream.set_default` says otherwise). Every call is
recorded (method, path, headers, parsed JSON body, time), so tests assert how many upstream calls
were made and what was sent. All public methods are thread-safe::

    with FakeUpstream() as fake:
        fake.script("a", Reply.rate_limited(retry_after=0), Reply.ok("hi"))
        config = fake.routing_config(providers={"a": "openai"}, models={...})
        ...
        assert fake.count("a") == 2
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml
from aiohttp import web

from fakes import bedrock
from fakes.constants import FAKE_KEY, FAKE_KEY_ENV
from fakes.replies import (
    MALFORMED_BODY,
    Dialect,
    Reply,
    completion_body,
    embeddings_body,
    error_body,
    moderation_body,
    sse_events,
)

# Fast, test-sized defaults for the routing config the fake writes (override per test).
FAST_RETRY = {
    "base_delay_s": 0.01,
    "max_delay_s": 0.05,
    "max_retry_after_s": 1.0,
    "max_attempts": 6,
    "quota_park_s": 60,
}
# High enough that only the breaker tests (which set their own) ever open a breaker.
QUIET_BREAKER = {"failure_threshold": 1000, "window_s": 30, "cooldown_s": 30}

_ENDPOINTS: dict[tuple[str, str], Dialect | None] = {
    ("POST", "chat/completions"): "openai",
    ("POST", "messages"): "anthropic",
    ("POST", "embeddings"): "embeddings",
    ("GET", "models"): None,
    ("POST", "converse"): "bedrock",
    ("POST", "converse-stream"): "bedrock",
    ("POST", "invoke"): "bedrock",
    ("POST", "moderations"): None,
}


def _endpoint(method: str, tail: str) -> tuple[str, str] | None:
    """The endpoint a path tail names: itself, or the endpoint it ends with."""
    if (method, tail) in _ENDPOINTS:
        return (method, tail)
    for key in _ENDPOINTS:
        if key[0] == method and tail.endswith("/" + key[1]):
            return key
    return None


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    name: str
    method: str
    path: str  # the path after /<name>, e.g. "/v1/chat/completions"
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    raw: bytes
    time: float  # time.monotonic() on arrival
    reply: str  # the kind of reply it got
    query: dict[str, str] = field(default_factory=dict)
    # Bedrock calls: None when the SigV4 signature checked out, else what was wrong with it.
    sigv4_problem: str | None = None
    raw_path: str = ""  # ``path`` as it came on the wire, still percent-encoded

    @property
    def model(self) -> str | None:
        """The model the body names, or for Bedrock the model id in the path."""
        if isinstance(self.body, dict) and "model" in self.body:
            return str(self.body["model"])
        if self.path.startswith("/model/"):
            return self.path[len("/model/") :].rpartition("/")[0]
        return None

    @property
    def api_key(self) -> str | None:
        """The key the caller presented (``Authorization: Bearer``, ``x-api-key`` or Azure's
        ``api-key``)."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.headers.get("x-api-key") or self.headers.get("api-key")


class FakeUpstream:
    """The fake server. Start it with ``with FakeUpstream() as fake`` or ``start()``/``stop()``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._models: dict[str, list[str]] = {}
        self._calls: list[Call] = []
        self._stream_ends: dict[str, list[str]] = {}
        self._seq = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._release: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the fake upstream is already running")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the fake upstream did not start within 10 s")
        if self._startup_error is not None:
            self._thread.join(timeout=5)
            self._thread = None
            raise RuntimeError("the fake upstream failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving: stalled handlers are released, the listener and connections closed."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("the fake upstream did not stop within 15 s")
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); a thread must not die silently
            self._startup_error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{name}/v1/{tail:.*}", self._handle)
        app.router.add_route("*", "/{name}/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
            self._release.set()
        finally:
            await runner.cleanup()

    # -- addresses and config ------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, name: str) -> str:
        """The base of provider ``name``: ``http://127.0.0.1:<port>/<name>``."""
        return f"{self.origin}/{name}"

    def base_url(self, name: str, kind: str = "openai") -> str:
        """The ``base_url`` a provider of ``kind`` needs (the Anthropic adapter appends /v1/messages)."""
        return self.url(name) if kind == "anthropic" else f"{self.url(name)}/v1"

    def provider_config(
        self,
        name: str,
        kind: str = "openai",
        *,
        api_key_env: str | None = FAKE_KEY_ENV,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        **extra: Any,
    ) -> dict[str, Any]:
        """A ``providers:`` entry pointing at ``/<name>`` on this server."""
        cfg: dict[str, Any] = {
            "kind": kind,
            "base_url": self.base_url(name, kind),
            "timeout_s": timeout_s,
            "connect_timeout_s": connect_timeout_s,
        }
        if api_key_env:
            cfg["api_key"] = {"env": api_key_env}
        cfg.update(extra)
        return cfg

    def routing_config(
        self,
        *,
        providers: Mapping[str, str | Mapping[str, Any]],
        models: Mapping[str, Any] | None = None,
        aliases: Mapping[str, str] | None = None,
        wildcards: Sequence[Mapping[str, str]] | None = None,
        strategy: str = "priority",
        retry: Mapping[str, Any] | None = None,
        breaker: Mapping[str, Any] | None = None,
        api_key_env: str | None = FAKE_KEY_ENV,
    ) -> dict[str, Any]:
        """A routing config (the schema of ``switchyard.config.routing``) whose providers are names
        on this server. ``providers`` maps a name to its kind, or to a dict with ``kind`` and any
        :meth:`provider_config` overrides. Retry delays are small and breakers quiet unless
        ``retry``/``breaker`` override them."""
        provs: dict[str, Any] = {}
        for name, spec in providers.items():
            if isinstance(spec, str):
                provs[name] = self.provider_config(name, spec, api_key_env=api_key_env)
            else:
                opts = {"api_key_env": api_key_env, **spec}
                provs[name] = self.provider_config(name, **opts)
        return {
            "version": 1,
            "strategy": strategy,
            "providers": provs,
            "models": dict(models or {}),
            "aliases": dict(aliases or {}),
            "wildcards": [dict(w) for w in wildcards or ()],
            "retry": {**FAST_RETRY, **(retry or {})},
            "breaker": {**QUIET_BREAKER, **(breaker or {})},
        }

    def config_yaml(self, path: Path, **kwargs: Any) -> Path:
        """Write :meth:`routing_config` (same arguments) as YAML to ``path``."""
        path.write_text(yaml.safe_dump(self.routing_config(**kwargs), sort_keys=False), encoding="utf-8")
        return path

    # -- scripting -----------------------------------------------------------------------------

    def script(self, name: str, *replies: Reply) -> None:
        """Append replies to ``name``'s queue; each completion call consumes one."""
        with self._lock:
            self._queues.setdefault(name, deque()).extend(replies)

    def set_default(self, name: str, reply: Reply | None) -> None:
        """What ``name`` answers once its queue is empty (None: a valid completion)."""
        with self._lock:
            if reply is None:
                self._defaults.pop(name, None)
            else:
                self._defaults[name] = reply

    def set_models(self, name: str, model_ids: Sequence[str]) -> None:
        with self._lock:
            self._models[name] = list(model_ids)

    def pending(self, name: str) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queues.get(name, ()))

    def reset(self) -> None:
        """Forget scripts, defaults, models and calls; release stalled handlers."""
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._models.clear()
            self._calls.clear()
            self._stream_ends.clear()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._release_stalls)

    def _release_stalls(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = asyncio.Event()

    def _next_reply(self, name: str) -> Reply:
        with self._lock:
            queue = self._queues.get(name)
            if queue:
                return queue.popleft()
            return self._defaults.get(name, Reply.ok())

    # -- the call log --------------------------------------------------------------------------

    def calls(self, name: str | None = None, *, path: str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally only those of ``name`` and/or to ``path``."""
        with self._lock:
            return [
                c
                for c in self._calls
                if (name is None or c.name == name) and (path is None or c.path.endswith(path))
            ]

    def stream_ends(self, name: str) -> list[str]:
        """How each SSE answer of ``name`` ended, oldest first: ``complete``, ``dropped`` (the fake
        cut it), ``stalled`` (the stall ran out or was released) or ``client_closed`` (the caller
        closed the connection before the end)."""
        with self._lock:
            return list(self._stream_ends.get(name, ()))

    def _stream_ended(self, name: str, how: str) -> None:
        with self._lock:
            self._stream_ends.setdefault(name, []).append(how)

    def count(self, name: str | None = None) -> int:
        """Model calls (chat/completions, messages, embeddings) of ``name``, or of every name;
        moderation checks are not counted."""
        return sum(1 for c in self.calls(name) if c.method == "POST" and c.path != "/v1/moderations")

    # -- serving -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        tail = request.match_info["tail"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        endpoint = _endpoint(request.method, tail)
        if endpoint is None:
            self._record(name, request, raw, body, "not_found")
            err = {"error": {"message": "Unknown path", "type": "invalid_request_error", "code": None}}
            return web.json_response(err, status=404)
        dialect = _ENDPOINTS[endpoint]
        if tail == "moderations":
            reply = self._next_reply(name)
            self._record(name, request, raw, body, reply.kind)
            return await self._moderation(request, reply, body)
        if dialect is None:
            self._record(name, request, raw, body, "models")
            return self._models_response(name)
        if dialect == "bedrock":
            return await self._bedrock(request, name, raw, body, action=endpoint[1])
        reply = self._next_reply(name)
        self._record(name, request, raw, body, reply.kind)
        return await self._render(request, reply, dialect, body)

    def _record(
        self, name: str, request: web.Request, raw: bytes, body: Any, reply: str, sigv4: str | None = None
    ) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.path[len(name) + 1 :]
        query = dict(request.query)
        raw_path = request.raw_path.partition("?")[0][len(name) + 1 :]
        call = Call(
            name, request.method, path, headers, body, raw, time.monotonic(), reply, query, sigv4, raw_path
        )
        with self._lock:
            self._calls.append(call)

    async def _bedrock(
        self, request: web.Request, name: str, raw: bytes, body: Any, *, action: str
    ) -> web.StreamResponse:
        """Converse, ConverseStream and InvokeModel: the caller must sign with SigV4 (or present
        the fake key as a Bedrock API key), as Bedrock refuses anything else with a 403."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("authorization") == f"Bearer {FAKE_KEY}":
            problem = None
        else:
            raw_path = request.raw_path.partition("?")[0]
            problem = bedrock.check_sigv4(request.method, raw_path, request.query_string, headers, raw)
        if problem is not None:
            reply = Reply.error(403, f"Signature rejected: {problem}", error_type="InvalidSignatureException")
            self._record(name, request, raw, body, "error", problem)
            return await self._render(request, reply, "bedrock", body)
        reply = self._next_reply(name)
        if action == "invoke" and reply.kind in ("ok", "stream"):
            return await self._invoke(request, name, raw, body, reply)
        self._record(name, request, raw, body, reply.kind)
        if action == "converse-stream" and reply.kind in ("ok", "stream"):
            return await self._bedrock_stream(request, reply)
        return await self._render(request, reply, "bedrock", body)

    async def _invoke(
        self, request: web.Request, name: str, raw: bytes, body: Any, reply: Reply
    ) -> web.StreamResponse:
        """An InvokeModel answer for the model in the path, or the ValidationException Bedrock
        gives a body its model does not take (recorded as an error)."""
        model = request.match_info["tail"].removeprefix("model/").rpartition("/")[0]
        try:
            payload = bedrock.invoke_answer(model, body, reply)
        except ValueError as exc:
            self._record(name, request, raw, body, "error")
            invalid = Reply.error(400, str(exc), error_type="ValidationException")
            return _bedrock_response(request, invalid)
        self._record(name, request, raw, body, reply.kind)
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        return web.json_response(payload, headers={**bedrock.invoke_headers(reply), **reply.headers})

    async def _bedrock_stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": bedrock.EVENTSTREAM, **reply.headers})
        await response.prepare(request)
        name = request.match_info["name"]
        try:
            for written, event in enumerate(bedrock.stream_events(reply)):
                if reply.drop_after is not None and written >= reply.drop_after:
                    _close(request)
                    self._stream_ended(name, "dropped")
                    return response
                await response.write(event)
            await response.write_eof()
        except ConnectionError:
            self._stream_ended(name, "client_closed")
            return response
        self._stream_ended(name, "complete")
        return response

    def _models_response(self, name: str) -> web.Response:
        with self._lock:
            ids = self._models.get(name, ["fake-model"])
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]
        return web.json_response({"object": "list", "data": data})

    async def _moderation(self, request: web.Request, reply: Reply, body: Any) -> web.StreamResponse:
        if reply.kind in ("ok", "stream"):
            if reply.latency_s:
                await asyncio.sleep(reply.latency_s)
            inputs = body.get("input") if isinstance(body, dict) else None
            count = len(inputs) if isinstance(inputs, list) else 1
            return web.json_response(moderation_body(reply, count))
        return await self._render(request, reply, "openai", body)

    async def _render(
        self, request: web.Request, reply: Reply, dialect: Dialect, body: Any
    ) -> web.StreamResponse:
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        model = body.get("model", "unknown") if isinstance(body, dict) else "unknown"
        seq = next(self._seq)
        if dialect == "bedrock" and reply.kind in ("ok", "stream", "error", "malformed"):
            return _bedrock_response(request, reply)
        match reply.kind:
            case "ok" | "stream":
                return await self._answer(request, reply, dialect, body, model=model, seq=seq)
            case "error":
                key = _presented_key(request)
                payload = error_body(reply, dialect, api_key=key)
                return web.json_response(payload, status=reply.status, headers=dict(reply.headers))
            case "malformed":
                return web.Response(body=MALFORMED_BODY, content_type="application/json")
            case "stall":
                await self._stall(reply.stall_s)
                return _drop(request)
            case "drop":
                return _drop(request)
            case "drop_mid_body":
                full = json.dumps(completion_body(reply, dialect, model=model, seq=seq)).encode()
                response = web.StreamResponse(headers={"Content-Type": "application/json"})
                response.content_length = len(full)
                await response.prepare(request)
                await response.write(full[: len(full) // 3])
                _close(request)
                return response
        raise AssertionError(f"unknown reply kind {reply.kind!r}")

    async def _answer(
        self, request: web.Request, reply: Reply, dialect: Dialect, body: Any, *, model: str, seq: int
    ) -> web.StreamResponse:
        """A good answer: vectors, a stream (asked for, or scripted), or a completion."""
        if dialect == "embeddings":
            return web.json_response(embeddings_body(reply, body, model=model), headers=dict(reply.headers))
        wants_stream = isinstance(body, dict) and body.get("stream") is True
        if reply.kind == "stream" or wants_stream:
            return await self._stream(request, reply, dialect, body, model=model, seq=seq)
        payload = completion_body(reply, dialect, model=model, seq=seq)
        return web.json_response(payload, headers=dict(reply.headers))

    async def _stream(
        self, request: web.Request, reply: Reply, dialect: Dialect, body: Any, *, model: str, seq: int
    ) -> web.StreamResponse:
        options = body.get("stream_options") if isinstance(body, dict) else None
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **reply.headers}
        )
        await response.prepare(request)
        name = request.match_info["name"]
        events = sse_events(reply, dialect, model=model, seq=seq, include_usage=include_usage)
        try:
            for written, event in enumerate(events):
                if reply.drop_after is not None and written >= reply.drop_after:
                    _close(request)
                    self._stream_ended(name, "dropped")
                    return response
                if reply.stall_after is not None and written >= reply.stall_after:
                    closed = await self._stall(reply.stall_s, request)
                    _close(request)
                    self._stream_ended(name, "client_closed" if closed else "stalled")
                    return response
                await response.write(event)
            await response.write_eof()
        except ConnectionError:  # aiohttp's ClientConnectionResetError: the caller went away
            self._stream_ended(name, "client_closed")
            return response
        self._stream_ended(name, "complete")
        return response

    async def _stall(self, seconds: float, request: web.Request | None = None) -> bool:
        """Wait ``seconds``, or until released, or until ``request``'s caller closes the
        connection; True in that last case."""
        release = self._release
        if release is None:
            return False
        waiter = asyncio.ensure_future(release.wait())
        try:
            async with asyncio.timeout(seconds):
                while not waiter.done():
                    if request is not None and (request.transport is None or request.transport.is_closing()):
                        return True
                    await asyncio.wait({waiter}, timeout=0.01)
        except TimeoutError:
            pass
        finally:
            waiter.cancel()
        return False


def _presented_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return request.headers.get("x-api-key") or request.headers.get("api-key", "")


def _bedrock_response(request: web.Request, reply: Reply) -> web.StreamResponse:
    """A buffered Bedrock answer, or its failure in Bedrock's shape."""
    match reply.kind:
        case "ok" | "stream":
            return web.json_response(bedrock.converse_body(reply), headers=dict(reply.headers))
        case "error":
            headers = {**bedrock.error_headers(reply), **reply.headers}
            return web.json_response(bedrock.error_body(reply), status=reply.status, headers=headers)
    return web.Response(body=MALFORMED_BODY, content_type="application/json")


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _drop(request: web.Request) -> web.Response:
    """Close the connection; aiohttp then fails to write this response and drops it quietly."""
    _close(request)
    return web.Response(status=500)
