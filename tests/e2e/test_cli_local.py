"""The ``switchyard`` CLI against the local runtime, as a newcomer meets it: ``make run`` in a
directory, the CLI run there with nothing set finds the gateway and the key ``make run`` kept in
``.switchyard/master-key``; key updates merge; a wrong or missing key is named as such."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from switchyard.cli import main

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

SWITCHYARD = Path(sys.executable).with_name("switchyard")  # the console script pip installed


@pytest.fixture(scope="module")
def runtime(module_local_runtime: Callable[..., LocalRuntime]) -> LocalRuntime:
    # No SWITCHYARD_MASTER_KEY: the runtime makes one and keeps it in .switchyard/master-key.
    return module_local_runtime(env={"SWITCHYARD_LOCAL_STATE": "memory", "SWITCHYARD_MASTER_KEY": ""})


@pytest.fixture
def in_runtime_dir(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test process as a shell in the directory `make run` ran in, with nothing exported."""
    for name in ("SWITCHYARD_MASTER_KEY", "SWITCHYARD_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWITCHYARD_PORT", str(runtime.port))
    directory = Path(runtime.log_path).parent
    monkeypatch.chdir(directory)
    yield directory


def cli_json(capsys: Any, *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_the_installed_cli_finds_the_local_gateway_and_its_key(
    runtime: LocalRuntime, in_runtime_dir: Path
) -> None:
    assert (in_runtime_dir / ".switchyard" / "master-key").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env["SWITCHYARD_PORT"] = str(runtime.port)
    done = subprocess.run(
        [str(SWITCHYARD), "keys", "create", "--tenant", "newcomer", "--rpm", "60"],
        cwd=in_runtime_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sk-sy-" in done.stdout and "shown only this once" in done.stdout
    assert "rpm=60" in done.stdout and "Traceback" not in done.stderr


def test_updates_merge_and_the_kept_limits_still_hold(
    runtime: LocalRuntime, in_runtime_dir: Path, capsys: Any
) -> None:
    made = cli_json(capsys, "keys", "create", "--tenant", "acme", "--rpm", "2", "--max-concurrent", "3")
    key_id = made["key_id"]
    assert made["created_at"].endswith("Z") and "T" in made["created_at"]  # ISO 8601, not epoch
    cli_json(capsys, "keys", "update", key_id, "--tpm", "20000", "--budget", "daily=5")
    shown = cli_json(capsys, "keys", "show", key_id)
    assert shown["limits"] == {"rpm": 2, "max_concurrent": 3, "tpm": 20000}
    assert shown["budgets"] == {"daily": "5"}
    # The rpm the update left alone is still enforced on requests.
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {made['key']}"}
    statuses = [
        httpx.post(f"{runtime.url}/v1/chat/completions", json=body, headers=headers, timeout=30).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    cli_json(capsys, "keys", "update", key_id, "--clear-limit", "rpm", "--budget", "monthly=50")
    shown = cli_json(capsys, "keys", "show", key_id)
    assert shown["limits"] == {"max_concurrent": 3, "tpm": 20000}
    assert shown["budgets"] == {"daily": "5", "monthly": "50"}
    cli_json(capsys, "tenants", "set", "acme", "--name", "Acme Inc.", "--budget", "monthly=500")
    tenant = cli_json(capsys, "tenants", "set", "acme", "--budget", "daily=0.00001")
    assert tenant["name"] == "Acme Inc." and tenant["budgets"] == {"monthly": "500", "daily": "0.00001"}
    assert main(["budgets", "--tenant", "acme"]) == 0
    assert "0.00001" in capsys.readouterr().out


def test_a_wrong_or_missing_key_is_named(
    runtime: LocalRuntime, in_runtime_dir: Path, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["tenants", "list", "--admin-key", "sk-sy-not-this-one"]) == 1
    err = capsys.readouterr().err
    assert "refused the key from --admin-key" in err and "master key" in err
    made = cli_json(capsys, "keys", "create", "--tenant", "acme")
    assert main(["tenants", "list", "--admin-key", made["key"]]) == 1
    assert "is a client key, not the master key" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no .switchyard here nor above
    assert main(["tenants", "list"]) == 2
    assert "no key: pass --admin-key, set SWITCHYARD_MASTER_KEY" in capsys.readouterr().err
