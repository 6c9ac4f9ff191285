"""The WSGI front of the embedded AWS emulation: which moto requests may run at once.

moto's threaded server serves each connection in a thread of its own and does not lock its
backends: two conditional writes to one DynamoDB item could interleave between check and write,
which real DynamoDB never allows, and an SQS send can be lost while a delete rebuilds the queue's
message list. So each service's requests run one at a time under that service's lock (one lock
for all of DynamoDB: moto's work is Python under the GIL, so finer locks would not run more of it
at once). No lock is ever held while a request *waits*: an SQS long poll (``WaitTimeSeconds`` > 0)
is served here as short polls under the SQS lock with the wait between them outside it, woken
early by every other SQS request (a send), so a poller never holds back a DynamoDB call or a send.

The gate also counts what changed (DynamoDB writes per table, SQS changes), which is what the
snapshots of :mod:`switchyard.local.snapshot` save, and takes every lock at once for them.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

# DynamoDB actions that change nothing; every other DynamoDB action is a write.
_DYNAMODB_READS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables"}
)
# SQS actions that change nothing (a receive changes its messages' receive counts, when it gets any).
_SQS_READS = frozenset({"GetQueueUrl", "GetQueueAttributes", "ListQueues", "ListQueueTags", "ReceiveMessage"})
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
# How often a waiting long poll looks again without being woken: messages also become visible
# when a visibility timeout or a delay runs out, which no request announces.
_POLL_S = 0.2

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class MotoGate:
    """A WSGI app in front of moto's ``DomainDispatcherApplication``."""

    def __init__(self, dispatcher: Any, *, poll_s: float = _POLL_S) -> None:
        self._dispatcher = dispatcher
        self._poll_s = poll_s
        self._apps: dict[str, WsgiApp] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._registry = threading.Lock()
        self._sqs_changed = threading.Condition()
        self._sqs_generation = 0  # SQS requests other than receives so far: a long poll's wake-up
        self.waiting = 0  # long polls between two short polls right now
        self._changes: dict[str, int] = {}  # "dynamodb:<table>" | "sqs" -> changes so far

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        service = _service(environ)
        action = _action(environ)
        if service == "sqs" and action == "ReceiveMessage":
            waited = self._long_poll(environ, start_response)
            if waited is not None:
                return waited
        app = self._app(service, environ)
        with self._lock(service):
            body = _read_body(environ)
            answer = list(app(environ, start_response))
        self._count(service, action, body)
        if action == "ReceiveMessage" and _has_messages(answer):
            self._count(service, "", b"")
        if service == "sqs" and action != "ReceiveMessage":
            with self._sqs_changed:
                self._sqs_generation += 1
                self._sqs_changed.notify_all()
        return answer

    def changes(self) -> dict[str, int]:
        """Changes so far by ``dynamodb:<table>`` and ``sqs`` (a snapshot saves what moved)."""
        with self._registry:
            return dict(self._changes)

    @contextmanager
    def quiet(self, services: Iterable[str] = ("dynamodb", "sqs")) -> Iterator[None]:
        """Hold the locks of ``services`` (in a fixed order): no request of theirs runs meanwhile."""
        with ExitStack() as stack:
            for service in sorted(services):
                stack.enter_context(self._lock(service))
            yield

    def _lock(self, service: str) -> threading.Lock:
        with self._registry:
            return self._locks.setdefault(service, threading.Lock())

    def _app(self, service: str, environ: dict[str, Any]) -> WsgiApp:
        # moto finds a request's backend by trying every service's URL patterns; the SigV4
        # scope names it, so each service's app is looked up once and kept.
        app = self._apps.get(service)
        if app is None:
            app = self._dispatcher.get_application(environ)
            if service != "unsigned":
                self._apps[service] = app
        return app

    def _count(self, service: str, action: str, body: bytes) -> None:
        if service == "dynamodb" and action not in _DYNAMODB_READS:
            keys = [f"dynamodb:{table}" for table in _tables(body)] or ["dynamodb:"]
        elif service == "sqs" and action not in _SQS_READS:
            keys = ["sqs"]
        else:
            return
        with self._registry:
            for key in keys:
                self._changes[key] = self._changes.get(key, 0) + 1

    def _long_poll(self, environ: dict[str, Any], start_response: Any) -> list[bytes] | None:
        """A JSON-protocol ReceiveMessage with a wait, as short polls; None: not one of those."""
        raw = _read_body(environ)
        try:
            request = json.loads(raw)
            wait_s = float(request.get("WaitTimeSeconds") or 0)
        except (ValueError, TypeError, AttributeError):
            return None
        if wait_s <= 0:
            return None
        short = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        deadline = time.monotonic() + wait_s
        app = self._app("sqs", environ)
        while True:
            with self._sqs_changed:
                generation = self._sqs_generation  # a send from here on ends the wait below
            with self._lock("sqs"):
                status, answer = _call(app, environ, short)
            received = _has_messages(answer)
            left = deadline - time.monotonic()
            if received or left <= 0 or not status[0].startswith("200"):
                if received:
                    self._count("sqs", "", b"")
                start_response(*status)
                return answer
            self._wait_for_change(generation, min(left, self._poll_s))

    def _wait_for_change(self, generation: int, timeout_s: float) -> None:
        """Until an SQS request after ``generation`` has been served, or ``timeout_s``."""
        with self._sqs_changed:
            self.waiting += 1
            try:
                self._sqs_changed.wait_for(lambda: self._sqs_generation != generation, timeout=timeout_s)
            finally:
                self.waiting -= 1


def _call(app: WsgiApp, environ: dict[str, Any], body: bytes) -> tuple[tuple[Any, ...], list[bytes]]:
    """``app`` on ``environ`` with ``body``: the arguments it gave start_response, and its answer."""
    started: list[tuple[Any, ...]] = []

    def start_response(*args: Any) -> None:
        started.append(args)

    attempt = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    answer = list(app(attempt, start_response))
    return started[0], answer


def _service(environ: dict[str, Any]) -> str:
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else "unsigned"


def _action(environ: dict[str, Any]) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return target.rpartition(".")[2]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back so that moto reads it too."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _tables(body: bytes) -> list[str]:
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return []
    if not isinstance(request, dict):
        return []
    if isinstance(request.get("TableName"), str):
        return [request["TableName"]]
    tables = list(request.get("RequestItems") or {})
    for item in request.get("TransactItems") or []:
        tables += [op["TableName"] for op in item.values() if isinstance(op, dict) and "TableName" in op]
    return tables


def _has_messages(answer: list[bytes]) -> bool:
    try:
        return bool(json.loads(b"".join(answer) or b"{}").get("Messages"))
    except (ValueError, AttributeError):
        return False
