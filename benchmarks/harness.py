"""What every benchmark here needs to run its servers: free loopback ports and child processes
that are stopped (by PID) however the benchmark ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path

PY = sys.executable
KEY = "sk-sy-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    stack: ExitStack, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` as a child process, stopped when ``stack`` closes."""
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stack.callback(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def start_local(
    stack: ExitStack, workdir: Path, port: int, config: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The local runtime (``make run``) on ``port`` serving ``config``, in ``workdir`` (where its
    ``.switchyard/`` goes), its output in ``workdir/output.log``; ``env`` adds to the environment."""
    environment = {
        **os.environ,
        "SWITCHYARD_PORT": str(port),
        "SWITCHYARD_MASTER_KEY": KEY,
        "SWITCHYARD_CONFIG": str(config),
        "SWITCHYARD_MOCK_UNCONFIGURED": "0",
        **(env or {}),
    }
    log = stack.enter_context((workdir / "output.log").open("wb"))
    proc = subprocess.Popen(
        [PY, "-m", "switchyard.local"], env=environment, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    stack.callback(_stop, proc)
    return proc


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace the section that starts at ``heading`` (up to the next ``## ``) of ``path``, or
    append ``text`` as a new one."""
    doc = path.read_text(encoding="utf-8")
    begin = doc.find(heading + "\n")
    if begin == -1:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", begin + len(heading))
        doc = doc[:begin] + text.rstrip("\n") + "\n" + (doc[end:] if end != -1 else "")
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


def start_gateway(
    stack: ExitStack, workdir: Path, up_port: int, gw_port: int, *, tree: Path | None = None
) -> None:
    """The local runtime on ``gw_port`` with one model, ``bench``, served by the OpenAI-dialect
    upstream on ``up_port``; in-memory state, as the overhead targets measure the gateway (DynamoDB calls
    are counted by benchmarks/aws_calls.py instead)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "bench.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            providers:
              up: {{kind: openai_compatible, base_url: "http://127.0.0.1:{up_port}/v1"}}
            models:
              bench: {{deployments: [{{provider: up, model: bench-upstream}}]}}
            """
        )
    )
    env = {
        **os.environ,
        "SWITCHYARD_PORT": str(gw_port),
        "SWITCHYARD_MASTER_KEY": KEY,
        "SWITCHYARD_CONFIG": str(config),
        "SWITCHYARD_MOCK_UNCONFIGURED": "0",
        "SWITCHYARD_LOCAL_STATE": "memory",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
    }
    if tree is not None:  # another checkout's package (benchmarks/pipeline_versus.py)
        env["PYTHONPATH"] = str(tree / "shared")
    start(stack, [PY, "-m", "switchyard.local"], env=env)
