"""What every benchmark here needs to run its servers: free loopback ports and child processes
that are stopped (by PID) however the benchmark ends."""

from __future__ import annotations

import socket
import subprocess
from contextlib import ExitStack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(stack: ExitStack, args: list[str], env: dict[str, str] | None = None) -> None:
    """Start ``args`` as a child process, stopped when ``stack`` closes."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stack.callback(_stop, proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
