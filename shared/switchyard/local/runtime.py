"""The local runtime behind ``make run``: the same ASGI app Lambda runs, served by uvicorn.

Without provider keys it serves every configured model with the mock provider, so a fresh machine
answers at once; set OPENAI_API_KEY / ANTHROPIC_API_KEY / … and the real providers are used.
State lives in an embedded AWS emulation and is saved under ``.switchyard/state/`` (see
:mod:`switchyard.local.snapshot`); ``python -m switchyard.local reset`` (``make reset``) removes it.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from pydantic import SecretStr

from switchyard.config.local import LocalSettings
from switchyard.local.banner import Facts, banner
from switchyard.local.terminal import PortInUseError, StandInHeader, bind, describe_standins, metrics_to_file

if TYPE_CHECKING:
    import socket
    from types import FrameType

    from fastapi import FastAPI
    from starlette.types import ASGIApp

SNAPSHOT_DIR = "state"
CLAIM_WAIT_S = 10.0


def local_settings(settings: LocalSettings) -> LocalSettings:
    """LocalSettings for a local run: a master key that survives restarts (``state_dir/master-key``)
    unless SWITCHYARD_MASTER_KEY is given, likewise the master secret keys' request-signing
    secrets derive from (``state_dir/signing-secret``), and the mock stand-in for unconfigured
    providers."""
    updates: dict[str, object] = {}
    directory = settings.state_dir
    if settings.master_key is None:
        updates["master_key"] = SecretStr(
            _persistent(directory, "master-key", lambda: "sk-sy-local-" + secrets.token_urlsafe(24))
        )
    signing = (settings.signing_secret, settings.signing_secret_name, settings.webhook_secret)
    if not any(signing) and not settings.webhook_secret_name:
        updates["signing_secret"] = SecretStr(
            _persistent(directory, "signing-secret", lambda: secrets.token_urlsafe(32))
        )
    if settings.mock_unconfigured is None:
        updates["mock_unconfigured"] = True
    return settings.model_copy(update=updates)


def _persistent(directory: Path, name: str, make: Callable[[], str]) -> str:
    """The value kept in ``directory/<name>``, made (readable by the owner only) the first time."""
    path = directory / name
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = make()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return value


def _cost_alarms(
    app: FastAPI, settings: LocalSettings, other_spend: Callable[[], float] | None = None
) -> str:
    """The template's cost alarms, emulated against this gateway's spend, driving the budget
    function (switchyard.local.budget); what the banner says about them."""
    from switchyard.local.budget import BUDGET_FUNCTION, ROOT, describe, with_cost_alarms
    from switchyard.local.template import TemplateError, load_template

    try:
        template = load_template(settings.template_path or ROOT / "template.yaml")
        return describe(
            with_cost_alarms(app, settings, template, BUDGET_FUNCTION, other_spend=other_spend or _nothing)
        )
    except (OSError, ImportError, TemplateError) as exc:
        return f"no cost alarms ({exc})"


def _nothing() -> float:
    return 0.0


def _announce(app: FastAPI, text: Callable[[], str]) -> None:
    """Print ``text()`` once the app has started (its gateway open), not before: a routing config
    that fails to load must not be preceded by a "listening" line."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            print(text(), flush=True)
            yield state

    app.router.lifespan_context = lifespan


def _serve(stack: ExitStack, settings: LocalSettings, listener: socket.socket) -> bool:
    """Start everything of a local run on ``stack`` and serve until stopped; False: the server
    did not start (the banner was not printed)."""
    facts: dict[str, Any] = {}
    if settings.local_metrics == "file":
        facts["metrics"] = metrics_to_file(settings.state_dir)
    if settings.local_state == "dynamodb" and not settings.state_table:
        settings = _emulated_state(stack, settings, facts)
    jobs_spend: Callable[[], float] | None = None
    if settings.jobs_queue_url:
        # The SQS worker, as Lambda would run it, on the emulated jobs queue.
        from switchyard.local.poller import QueuePoller

        poller = QueuePoller(settings, settings.jobs_queue_url)
        poller.start()
        stack.callback(poller.stop)
        jobs_spend = poller.spent_usd
    from switchyard.http.app import create_app

    app = create_app(settings)
    facts["budget"] = _cost_alarms(app, settings, jobs_spend)
    served: ASGIApp = app
    if settings.mock_unconfigured:
        from switchyard.config.routing import mock_standins

        standins = mock_standins(settings.config_path, settings.environment)
        facts["standins"] = describe_standins(standins)
        served = StandInHeader(app, standins)
    _announce(app, lambda: banner(settings, Facts(**facts)))
    config = uvicorn.Config(served, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    with _stop_signals_end_the_server():
        server.run(sockets=[listener])
    return bool(server.started)


def _emulated_state(stack: ExitStack, settings: LocalSettings, facts: dict[str, Any]) -> LocalSettings:
    """Start the AWS emulation (its own process) on ``stack``; the settings that use it. Raises
    StateDirBusy, EmulatorError."""
    from switchyard.local.emulator import local_state
    from switchyard.local.snapshot import holding

    state = settings.state_dir / SNAPSHOT_DIR
    # A runtime killed a moment ago may still be saving its last state: let it finish.
    claim = stack.enter_context(holding(state, wait_s=CLAIM_WAIT_S))
    emulation = stack.enter_context(local_state(settings, state, claim=claim))
    import switchyard.http.app  # noqa: F401  (the gateway's code loads while the emulation starts)

    local = emulation.wait()
    facts.update(saved_to=local.saved_to, restored=local.restored)
    return local.settings


@contextmanager
def _stop_signals_end_the_server() -> Iterator[None]:
    """uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again with the
    handlers it found: these, so that the process goes on to save its state and stop its workers
    (the default SIGTERM action would end it on the spot). A second signal stops at once."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    before = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in before.items():
            signal.signal(sig, previous)


def run(settings: LocalSettings) -> int:
    """``make run``: the exit status."""
    from switchyard.local.emulator import EmulatorError
    from switchyard.local.snapshot import StateDirBusy

    try:
        listener = bind(settings.host, settings.port)
    except PortInUseError as exc:
        print(exc, file=sys.stderr)
        return 1
    settings = local_settings(settings)
    with ExitStack() as stack:
        stack.callback(listener.close)
        try:
            return 0 if _serve(stack, settings, listener) else 1
        except StateDirBusy as exc:
            print(
                f"switchyard: {settings.state_dir} is in use by {exc} (another make run in this "
                "directory?); stop it, or give this one its own SWITCHYARD_STATE_DIR",
                file=sys.stderr,
            )
            return 1
        except EmulatorError as exc:
            print(exc, file=sys.stderr)
            return 1


def reset(settings: LocalSettings) -> int:
    """``make reset``: remove the saved state (not the master key); the exit status."""
    from switchyard.local.snapshot import StateDirBusy, holding
    from switchyard.local.terminal import METRICS_FILE

    state = settings.state_dir / SNAPSHOT_DIR
    try:
        with holding(state):
            removed = [p for p in state.iterdir() if p.name != "lock"]
            removed += [p for p in settings.state_dir.glob(METRICS_FILE + "*") if p.is_file()]
            for path in removed:
                path.unlink()
    except StateDirBusy as exc:
        print(f"switchyard: cannot reset while {exc} uses {state}; stop it first", file=sys.stderr)
        return 1
    if removed:
        print(
            f"Removed the saved local state in {state} (tenants, virtual keys, limits, usage, budgets, "
            "jobs and results) and the metrics file: the next `make run` starts clean. The master key "
            f"({settings.state_dir / 'master-key'}) is kept; delete it for a new one."
        )
    else:
        print(f"Nothing to reset: no saved local state in {state}.")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m switchyard.local",
        description="The local runtime behind `make run` (run) and `make reset` (reset).",
    )
    parser.add_argument("command", nargs="?", choices=("run", "reset"), default="run")
    args = parser.parse_args(argv)
    settings = LocalSettings.from_env()
    sys.exit(reset(settings) if args.command == "reset" else run(settings))
