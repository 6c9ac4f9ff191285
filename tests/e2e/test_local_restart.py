"""``make run`` keeps what a user created across restarts: a virtual key (with its tenant and
limits), its usage and a finished job survive a clean stop (SIGTERM) and a SIGKILL; ``make
reset`` starts clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from fakes import MASTER_KEY

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}
SNAPSHOT = Path("state") / "aws.pickle"


def admin(runtime: LocalRuntime) -> httpx.Client:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return httpx.Client(base_url=runtime.url, headers=headers, timeout=30, trust_env=False)


def create_key(runtime: LocalRuntime) -> dict[str, Any]:
    with admin(runtime) as client:
        created = client.post(
            "/admin/keys", json={"name": "laptop", "tenant": "acme", "limits": {"rpm": 600}}
        )
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    return key


def ask(runtime: LocalRuntime, key: str) -> str:
    with openai.OpenAI(base_url=runtime.base_url, api_key=key, max_retries=0, timeout=30) as sdk:
        answer = sdk.chat.completions.create(model="mock-1", messages=CHAT["messages"])  # type: ignore[arg-type]
    return answer.choices[0].message.content or ""


def run_job(runtime: LocalRuntime, key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=30, trust_env=False) as client:
        job_id = client.post("/v1/jobs", json={"request": CHAT}).json()["data"][0]["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] == "succeeded":
                return job
            time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish")


def saved(state_dir: Path, text: str, timeout_s: float = 60.0) -> None:
    """Wait until the state saved in ``state_dir`` holds ``text`` (saves come every second)."""
    deadline = time.monotonic() + timeout_s
    path = state_dir / SNAPSHOT
    while time.monotonic() < deadline:
        if path.exists() and text.encode() in path.read_bytes():
            return
        time.sleep(0.1)
    pytest.fail(f"{text} was never saved to {path}")


def usage(runtime: LocalRuntime, key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=30, trust_env=False) as client:
        answer: dict[str, Any] = client.get("/v1/usage").json()
    return answer


def test_a_key_its_usage_and_a_job_survive_a_clean_stop(
    local_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    state_dir = tmp_path / "switchyard"
    first = local_runtime(state_dir=state_dir)
    assert f"saved in {state_dir / 'state'} every second and at exit: new" in first.output()
    key = create_key(first)
    assert ask(first, key["key"])
    job = run_job(first, key["key"])
    assert first.stop() == 0  # SIGTERM: the gateway writes its usage, then the state is saved
    assert "Traceback" not in first.output()

    second = local_runtime(state_dir=state_dir)
    assert "restored " in second.output()
    assert ask(second, key["key"])  # the same key, after a restart
    with admin(second) as client:
        stored = client.get(f"/admin/keys/{key['key_id']}").json()
        assert (stored["tenant"], stored["limits"]["rpm"]) == ("acme", 600)
        assert client.get("/admin/tenants/acme").status_code == 200
    with httpx.Client(base_url=second.url, headers={"Authorization": f"Bearer {key['key']}"}) as client:
        again = client.get(f"/v1/jobs/{job['id']}").json()
    assert (again["status"], again["result"]) == ("succeeded", job["result"])
    # Both answers of the first run (the chat and the job) were written before it stopped.
    assert usage(second, key["key"])["total"]["requests"] == 2


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    if not found.exists():
        pytest.skip("no /proc to find the emulation's process by")
    return [int(child) for child in found.read_text().split()]


def test_a_key_survives_a_sigkill(local_runtime: Callable[..., LocalRuntime], tmp_path: Path) -> None:
    """kill -9 of the runtime: the emulation (its child) notices, saves and exits."""
    state_dir = tmp_path / "switchyard"
    first = local_runtime(state_dir=state_dir)
    key = create_key(first)
    first.kill()

    second = local_runtime(state_dir=state_dir)  # waits for the first one's last save
    assert "restored " in second.output()
    assert ask(second, key["key"])


def test_a_key_survives_a_sigkill_of_every_process(
    local_runtime: Callable[..., LocalRuntime], tmp_path: Path
) -> None:
    """kill -9 of the emulation too (a whole process group killed): the save of every second."""
    state_dir = tmp_path / "switchyard"
    first = local_runtime(state_dir=state_dir)
    [emulation] = children(first.proc.pid)
    key = create_key(first)
    saved(state_dir, key["key_id"])  # within about a second of its creation
    os.kill(emulation, signal.SIGKILL)
    first.kill()

    second = local_runtime(state_dir=state_dir)
    assert ask(second, key["key"])


def reset(state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWITCHYARD_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "switchyard.local", "reset"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_reset_starts_clean(local_runtime: Callable[..., LocalRuntime], tmp_path: Path) -> None:
    state_dir = tmp_path / "switchyard"
    first = local_runtime(state_dir=state_dir)
    key = create_key(first)
    busy = reset(state_dir)  # refused while a runtime uses the state
    assert busy.returncode == 1 and "stop it first" in busy.stderr
    first.stop()

    done = reset(state_dir)
    assert done.returncode == 0, done.stderr
    assert "the next `make run` starts clean" in done.stdout
    second = local_runtime(state_dir=state_dir)
    assert "every second and at exit: new" in second.output()
    with pytest.raises(openai.AuthenticationError):
        ask(second, key["key"])
