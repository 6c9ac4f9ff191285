"""Shared fixtures: the fake upstream, routing config files, the ASGI gateway, the local runtime.

Everything binds to 127.0.0.1 on free ports (safe under ``pytest -n``), and everything a fixture
starts it also stops: servers, clients, the app's lifespan, subprocesses (killed by PID).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakes import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY, FakeUpstream

if TYPE_CHECKING:
    import anthropic
    import openai

GATEWAY_ENV = {FAKE_KEY_ENV: FAKE_KEY}


# -- fake upstream -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _fake_upstream_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake_upstream(_fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """One server per test session (per xdist worker), scripts and call log reset for each test."""
    _fake_upstream_server.reset()
    yield _fake_upstream_server
    _fake_upstream_server.reset()


# -- config files ------------------------------------------------------------------------------


ConfigFile = Callable[..., Path]


@pytest.fixture
def config_file(tmp_path: Path) -> ConfigFile:
    """``config_file(config)`` writes a routing config (a mapping, or YAML text) and returns its path."""
    counter = iter(range(1_000_000))

    def write(config: Mapping[str, Any] | str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"routing-{next(counter)}.yaml")
        text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


# -- the ASGI gateway --------------------------------------------------------------------------


class _Lifespan:
    """An app's ASGI lifespan driven in a task of its own, as a server drives it."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._timeout_s = timeout_s
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._task = asyncio.create_task(app(scope, self._inbox.get, self._outbox.put))

    async def step(self, name: str) -> None:
        """Send ``lifespan.<name>`` and wait for its ``.complete`` (raising the app's failure)."""
        await self._inbox.put({"type": f"lifespan.{name}"})
        expected = f"lifespan.{name}"
        getter = asyncio.ensure_future(self._outbox.get())
        try:
            async with asyncio.timeout(self._timeout_s):
                done, _ = await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            await _cancel(getter)
            await _cancel(self._task)
            raise
        if getter not in done:
            await _cancel(getter)
            await self._task
            raise RuntimeError(f"the app returned from its lifespan without {expected}.complete")
        message = getter.result()
        if message["type"] == f"{expected}.complete":
            return
        if self._task.done() or message["type"] == f"{expected}.failed":
            await self._task  # raises the app's own exception, if it re-raised one
        raise RuntimeError(f"{expected} failed: {message.get('message', message)}")

    async def finish(self) -> None:
        await self._task


async def _cancel(pending: asyncio.Future[Any]) -> None:
    if not pending.done():
        pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending


@asynccontextmanager
async def running(app: ASGIApp, timeout_s: float = 10.0) -> AsyncIterator[ASGIApp]:
    """Drive the app's ASGI lifespan (startup before, shutdown after) in a task of its own, as a
    server does, and yield an app that passes lifespan state on to each request scope."""
    lifespan = _Lifespan(app, timeout_s)
    await lifespan.step("startup")

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(lifespan.state)}
        await app(scope, receive, send)

    with_state.app = app  # type: ignore[attr-defined]  # tests reach the gateway through it
    try:
        yield with_state
    finally:
        await lifespan.step("shutdown")
        await lifespan.finish()


GatewayFactory = Callable[..., Any]


@pytest.fixture
async def gateway(config_file: ConfigFile) -> AsyncIterator[GatewayFactory]:
    """``client = await gateway(config, ...)``: the app from ``create_app(settings)`` with its
    lifespan running, behind an ``httpx.AsyncClient`` that speaks ASGI to it. ``config`` is a
    mapping or a path; the client sends the master key unless ``api_key=None``. ``transport`` goes
    to ``create_app`` (the upstream client); with ``raise_app_exceptions=False`` an unhandled error
    reaches the test as the 500 response a caller would get, instead of as an exception."""
    from switchyard.config.settings import RouterSettings
    from switchyard.http.app import create_app

    async with AsyncExitStack() as stack:

        async def make(
            config: Mapping[str, Any] | Path,
            *,
            environment: Mapping[str, str] | None = None,
            api_key: str | None = MASTER_KEY,
            request_timeout_s: float = 10.0,
            max_body_bytes: int | None = None,
            mock_unconfigured: bool = False,
            transport: httpx.AsyncBaseTransport | None = None,
            raise_app_exceptions: bool = True,
            settings_extra: Mapping[str, Any] | None = None,
            clock: Callable[[], float] = time.time,
        ) -> httpx.AsyncClient:
            path = config if isinstance(config, Path) else config_file(config)
            extra: dict[str, Any] = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
            extra.update(settings_extra or {})  # e.g. the state tables of `state_tables`
            settings = RouterSettings(
                config_path=path,
                master_key=SecretStr(MASTER_KEY),
                request_timeout_s=request_timeout_s,
                environment={**GATEWAY_ENV, **(environment or {})},
                mock_unconfigured=mock_unconfigured,
                **extra,
            )
            app = await stack.enter_async_context(
                running(create_app(settings, transport=transport, clock=clock))
            )
            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions),
                base_url="http://gateway",
                headers=headers,
                timeout=30,
            )
            return await stack.enter_async_context(client)

        yield make


# -- the local runtime (a subprocess) ----------------------------------------------------------


@dataclass
class LocalRuntime:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    master_key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """A clean stop (SIGTERM, as Ctrl-C or a service manager does); the exit status."""
        _stop(self.proc)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is written at exit."""
        self.proc.kill()
        self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # SIGTERM to this PID only
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_healthy(runtime: LocalRuntime, timeout_s: float) -> bool:
    """True once GET /health answers 200; False if the process exited first."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if runtime.proc.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{runtime.url}/health").status_code == 200:
                    return True
            time.sleep(0.05)
    _stop(runtime.proc)
    pytest.fail(f"the local runtime did not become healthy in {timeout_s} s; its output:\n{runtime.output()}")


class LocalRuntimes:
    """Starts ``python -m switchyard.local`` subprocesses in ``directory`` and stops them by PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self,
        config: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        master_key: str = MASTER_KEY,
        # Start-up is two processes importing a web stack and moto: on a shared 2-core machine
        # under load it takes well over its usual few seconds.
        timeout_s: float = 90.0,
        state_dir: Path | None = None,
    ) -> LocalRuntime:
        """A runtime on a free port with a clean environment (no provider keys unless ``env`` has
        them), healthy when returned. ``config=None`` uses the shipped default config. Its state
        is saved in ``state_dir`` (default: a directory of its own, so runtimes never share one)."""
        for _ in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            environment = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(self.directory),
                "LANG": "C.UTF-8",
                "PYTHONUNBUFFERED": "1",
                "SWITCHYARD_PORT": str(port),
                "SWITCHYARD_MASTER_KEY": master_key,
                "SWITCHYARD_STATE_DIR": str(state_dir or self.directory / f"state-{port}"),
                **({"SWITCHYARD_CONFIG": str(config)} if config else {}),
                **(env or {}),
            }
            log_path = self.directory / f"local-runtime-{port}.log"
            log = log_path.open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "switchyard.local"],
                cwd=self.directory,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self._started.append((proc, log))
            runtime = LocalRuntime(proc, port, log_path, master_key)
            if _wait_healthy(runtime, timeout_s):
                return runtime
            output = runtime.output()
            if "already in use" not in output.lower():
                pytest.fail(f"the local runtime exited with {proc.returncode}; its output:\n{output}")
        pytest.fail("the local runtime could not bind a free port in 3 tries")

    def stop_all(self) -> None:
        while self._started:
            proc, log = self._started.pop()
            _stop(proc)
            log.close()


@pytest.fixture
def local_runtime(tmp_path: Path) -> Iterator[Callable[..., LocalRuntime]]:
    """``local_runtime(config_path | None, env={...})``: see :meth:`LocalRuntimes.start`; every
    runtime started is stopped (by PID) at teardown."""
    runtimes = LocalRuntimes(tmp_path)
    try:
        yield runtimes.start
    finally:
        runtimes.stop_all()


@pytest.fixture(scope="module")
def module_local_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LocalRuntime]]:
    """:func:`local_runtime` for runtimes shared by the tests of one module."""
    runtimes = LocalRuntimes(tmp_path_factory.mktemp("local-runtime"))
    try:
        yield runtimes.start
    finally:
        runtimes.stop_all()


# -- DynamoDB on moto (127.0.0.1) ----------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One embedded moto server per test session (per xdist worker), on a free loopback port."""
    from switchyard.local.aws import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def state_tables(moto_endpoint: str) -> Any:
    """The template's own tables (and queues), created for this test under a prefix of its own:
    a ``LocalResources`` with ``endpoint`` and ``tables`` by logical id."""
    import uuid

    from switchyard.local.aws import provision

    return provision(moto_endpoint, prefix=f"t{uuid.uuid4().hex[:12]}")


def dynamo_settings(resources: Any) -> dict[str, Any]:
    """RouterSettings fields that put a gateway's state on ``state_tables``'s tables."""
    return {
        "state_table": resources.tables["StateTable"],
        "cache_table": resources.tables["CacheTable"],
        "aws_endpoint_url": resources.endpoint,
        # A slow moto under test load is not an outage (see statekit.dynamo_stores).
        "state_timeout_s": 10.0,
    }


# -- the official SDKs against a module's local runtime ----------------------------------------
# An end-to-end module starts its own runtime (a fixture named ``runtime``, with the routing config
# it needs); these point the SDKs at it with the master key, no retries of their own (a test counts
# upstream calls) and a timeout. Imported here, not at the top: most tests never load an SDK.


@pytest.fixture
def oai(runtime: LocalRuntime) -> Iterator[openai.OpenAI]:
    import openai

    with openai.OpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture
def claude(runtime: LocalRuntime) -> Iterator[anthropic.Anthropic]:
    import anthropic

    with anthropic.Anthropic(base_url=runtime.url, api_key=MASTER_KEY, max_retries=0, timeout=30) as sdk:
        yield sdk
