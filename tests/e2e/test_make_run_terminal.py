"""``make run``'s terminal: a port in use is one line and a non-zero exit; EMF metric lines go to
``.switchyard/metrics.log`` unless asked for on the terminal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from fakes import MASTER_KEY

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}


def test_a_port_in_use_is_one_line_and_a_failure(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "SWITCHYARD_PORT": str(port),
            "SWITCHYARD_MASTER_KEY": MASTER_KEY,
            "SWITCHYARD_STATE_DIR": str(tmp_path / "state"),
        }
        done = subprocess.run(
            [sys.executable, "-m", "switchyard.local"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert done.stdout.splitlines() == [
        f"switchyard: port {port} on 127.0.0.1 is already in use (another make run?); "
        f"pick another with SWITCHYARD_PORT={port + 1} make run"
    ]


def answer_then_stop(runtime: LocalRuntime) -> str:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=30, trust_env=False) as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert runtime.stop() == 0  # metrics are flushed at shutdown
    return runtime.output()


def test_metric_lines_go_to_a_file_unless_asked_for(
    local_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    quiet = answer_then_stop(local_runtime(state_dir=tmp_path / "quiet"))
    assert '{"_aws"' not in quiet
    assert "EMF lines in " + str(tmp_path / "quiet" / "metrics.log") in quiet
    logged = (tmp_path / "quiet" / "metrics.log").read_text(encoding="utf-8").splitlines()
    assert logged and all(line.startswith('{"_aws"') for line in logged)
    assert any('"Requests"' in line for line in logged)

    loud = answer_then_stop(
        local_runtime(state_dir=tmp_path / "loud", env={"SWITCHYARD_LOCAL_METRICS": "stdout"})
    )
    assert any(line.startswith('{"_aws"') and '"Requests"' in line for line in loud.splitlines())
    assert not (tmp_path / "loud" / "metrics.log").exists()
