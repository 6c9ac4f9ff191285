"""The embedded AWS emulation of ``make run``, in a process of its own.

moto is Python: every emulated DynamoDB or SQS request costs milliseconds of interpreter time, and
so does saving the state. In the gateway's own process that time would be taken from the event
loop that serves requests (one interpreter lock); in a child process it runs beside it, on
another core. :func:`local_state` starts the child (``python -m switchyard.local.emulator``),
which serves moto behind the gate (:mod:`switchyard.local.moto_gate`) on a free loopback port,
puts back the saved state, provisions the template's tables and queues, saves while it runs
(:mod:`switchyard.local.snapshot`), and prints one line of JSON: its endpoint, tables and queues.

The child stops when its standard input closes: when the runtime closes it after its last writes
(a clean stop), and when the runtime dies however it dies (SIGKILL included), since the OS closes
the pipe then. Either way it saves once more before it exits, so a SIGKILL of the runtime loses
none of the emulated state, only what the gateway still held in memory. Ctrl-C reaches every
process of the terminal's group: the child ignores SIGINT and waits for the runtime to finish.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from switchyard.config.local import LocalSettings
from switchyard.local.template import DEFAULT_REGION

# How long the runtime waits for the child's first line (imports, restoring a large state).
START_TIMEOUT_S = 120.0
# How long the runtime waits for the child's last save.
STOP_TIMEOUT_S = 60.0
LOCAL_STATE_TIMEOUT_S = 5.0


class EmulatorError(RuntimeError):
    """The emulation did not start."""


@dataclass(frozen=True)
class LocalState:
    settings: LocalSettings  # with the emulated tables, queue and endpoint
    saved_to: Path | None  # where the state is saved (None: kept in memory only)
    restored: str  # what a previous run had saved there (the snapshot's summary)


def emulated_timeout(settings: LocalSettings) -> float:
    """The state call timeout on the emulator: the configured one if set, else a longer default."""
    return (
        settings.state_timeout_s if "state_timeout_s" in settings.model_fields_set else LOCAL_STATE_TIMEOUT_S
    )


class Emulation:
    """The child process, started; :meth:`wait` for its tables and queues."""

    def __init__(self, settings: LocalSettings, child: subprocess.Popen[bytes]) -> None:
        self._settings = settings
        self._child = child

    def wait(self) -> LocalState:
        """Block until the child serves; the settings that use it. Raises EmulatorError."""
        assert self._child.stdout is not None
        ready = _first_line(self._child, self._child.stdout)
        emulated = self._settings.model_copy(
            update={
                "state_table": ready["tables"]["StateTable"],
                "cache_table": ready["tables"].get("CacheTable"),
                "jobs_queue_url": ready["queues"].get("JobsQueue"),
                "aws_endpoint_url": ready["endpoint"],
                "aws_region": DEFAULT_REGION,
                # The emulator applies DynamoDB requests one at a time in Python: on a busy machine
                # a call can wait past the 1 s meant for DynamoDB, which is slowness, not an outage.
                "state_timeout_s": emulated_timeout(self._settings),
            }
        )
        saved_to = Path(ready["saved_to"]) if ready["saved_to"] else None
        return LocalState(emulated, saved_to, ready["restored"])


@contextmanager
def local_state(
    settings: LocalSettings, state_dir: Path | None = None, *, claim: int | None = None
) -> Iterator[Emulation]:
    """Start the child that emulates DynamoDB and SQS, provisioned from the template, for as long
    as the context lasts (what the runtime imports meanwhile loads beside it); with ``state_dir``,
    put back from what the last run saved there and saved there while it runs and when it ends.
    ``claim``: the file descriptor of the state directory's lock
    (:func:`~switchyard.local.snapshot.holding`), held by the child too, so that the directory stays
    claimed until its last save, even if this process is killed."""
    from switchyard.local.aws import DEFAULT_TEMPLATE

    command = [sys.executable, "-m", "switchyard.local.emulator"]
    command += ["--template", str(settings.template_path or DEFAULT_TEMPLATE)]
    if state_dir is not None:
        command += ["--state-dir", str(state_dir)]
    # This interpreter, this package, paths from the settings: no shell, no outside input.
    child = subprocess.Popen(  # noqa: S603
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=() if claim is None else (claim,)
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        yield Emulation(settings, child)
    finally:
        child.stdin.close()  # the child saves once more and exits
        try:
            child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


def _first_line(child: subprocess.Popen[bytes], stdout: IO[bytes]) -> dict[str, Any]:
    timer = threading.Timer(START_TIMEOUT_S, child.kill)
    timer.start()
    try:
        line = stdout.readline()
    finally:
        timer.cancel()
    if not line:
        code = child.wait()
        raise EmulatorError(f"switchyard: the AWS emulation stopped (exit status {code}) before it served")
    ready: dict[str, Any] = json.loads(line)
    return ready


# ------------------------------------------------------------------------------ the child


def serve(template: Path, state_dir: Path | None, stop: threading.Event) -> None:
    """Serve the emulation until ``stop`` is set; print the ready line once serving."""
    from switchyard.local.aws import emulated_aws, provision
    from switchyard.local.snapshot import FILE_NAME, Definitions, Restored, Snapshots
    from switchyard.local.template import load_template

    with emulated_aws() as aws:
        snapshots = None
        restored = Restored()
        if state_dir is not None:
            snapshots = Snapshots(state_dir / FILE_NAME, aws.gate, Definitions.of(load_template(template)))
            restored = snapshots.restore()
        resources = provision(aws.endpoint, template)
        if snapshots is not None:
            snapshots.start()
        ready = {
            "endpoint": aws.endpoint,
            "tables": resources.tables,
            "queues": resources.queues,
            "saved_to": str(snapshots.path) if snapshots is not None else None,
            "restored": restored.summary(),
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads the pipe from now on
        stop.wait()
        if snapshots is not None:
            snapshots.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m switchyard.local.emulator", description=__doc__)
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def until_stdin_closes() -> None:
        # The raw descriptor, not sys.stdin: a buffered reader left blocked in a daemon thread
        # aborts the interpreter's shutdown.
        while os.read(sys.stdin.fileno(), 4096):
            pass
        stop.set()

    threading.Thread(target=until_stdin_closes, name="parent-watch", daemon=True).start()
    try:
        serve(args.template, args.state_dir, stop)
    except (OSError, ValueError) as exc:  # no template, one this emulation cannot read, no port
        print(f"switchyard: cannot start the AWS emulation: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
