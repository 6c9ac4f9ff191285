"""What ``make run`` shows in its terminal, and what it keeps out of it.

- The port is bound before anything starts, so a port in use is one line (which port, how to pick
  another) and a non-zero exit, not a "listening" line followed by a traceback.
- CloudWatch EMF documents (one JSON line per metric flush, as Lambda logs them) go to a file under
  the state directory, kept to two files of 10 MB; ``SWITCHYARD_LOCAL_METRICS=stdout`` prints them.
- A response served by the mock stand-in of a provider without a key says which provider in an
  ``x-switchyard-stand-in`` header (the banner lists the stand-ins).
"""

from __future__ import annotations

import errno
import fnmatch
import io
import logging
import socket
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from switchyard.config.routing import MOCK_STANDIN, StandIn

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_FILE = "metrics.log"
_EMF_PREFIX = '{"_aws"'
_METRICS_MAX_BYTES = 10 * 1024 * 1024
STAND_IN_HEADER = "x-switchyard-stand-in"


class PortInUseError(Exception):
    pass


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the server to listen on. Raises PortInUseError (with the
    line to print) when the port is taken, OSError otherwise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"switchyard: port {port} on {host} is already in use (another make run?); "
                f"pick another with SWITCHYARD_PORT={port + 1 if port < 65535 else 8081} make run"
            ) from None
        raise
    sock.set_inheritable(True)
    return sock


class MetricLines(io.TextIOBase):
    """A text stream for ``sys.stdout`` that sends whole lines starting with an EMF document to
    ``metrics`` and every other line to ``terminal``. Thread-safe: the jobs worker prints from a
    thread of its own."""

    def __init__(self, terminal: TextIO, metrics: logging.Logger) -> None:
        self._terminal = terminal
        self._metrics = metrics
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                if line.startswith(_EMF_PREFIX):
                    self._metrics.info(line)
                else:
                    self._terminal.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._terminal.flush()


def metrics_to_file(directory: Path) -> Path:
    """From now on, EMF lines printed by this process go to ``directory/metrics.log``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / METRICS_FILE
    handler = RotatingFileHandler(path, maxBytes=_METRICS_MAX_BYTES, backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    metrics = logging.getLogger("switchyard.local.metrics")
    metrics.handlers = [handler]
    metrics.setLevel(logging.INFO)
    metrics.propagate = False
    sys.stdout = MetricLines(sys.stdout, metrics)
    return path


class StandInHeader:
    """Adds ``x-switchyard-stand-in: <provider>`` to answers of the mock stand-ins (pure ASGI). A
    stand-in deployment's id names the provider it stands in for (``mock-standin/openai/…``); a
    wildcard route's is known by its pattern."""

    def __init__(self, app: ASGIApp, standins: list[StandIn]) -> None:
        self.app = app
        self._standins = standins

    def _provider(self, deployment: bytes, model: bytes) -> bytes:
        _, _, rest = deployment.decode("latin-1").partition(f"{MOCK_STANDIN}/")
        provider, slash, _ = rest.partition("/")
        if slash and any(s.provider == provider for s in self._standins):
            return provider.encode()
        # A wildcard route's upstream model is the public name its pattern matched.
        name = model.decode("latin-1")
        found = [s.provider for s in self._standins if any(fnmatch.fnmatchcase(name, m) for m in s.models)]
        return ", ".join(found or ["unknown"]).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._standins:
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", ()))
                if headers.get(b"x-switchyard-provider") == MOCK_STANDIN.encode():
                    deployment = headers.get(b"x-switchyard-deployment", b"")
                    provider = self._provider(deployment, headers.get(b"x-switchyard-model", b""))
                    message["headers"] = [*message.get("headers", ()), (STAND_IN_HEADER.encode(), provider)]
            await send(message)

        await self.app(scope, receive, marked)


def describe_standins(standins: list[StandIn]) -> str:
    """The banner's list: which providers the mock answers for, and what would configure each."""
    if not standins:
        return "none: every configured provider has its key"
    return ", ".join(f"{s.provider} ({' or '.join(s.needs) or 'no key source'})" for s in standins)
