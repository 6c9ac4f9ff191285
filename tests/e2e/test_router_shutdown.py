"""The router as Lambda runs it (uvicorn started like functions/router/run.sh, state in DynamoDB):
usage it still holds when Lambda stops the instance with SIGTERM is written before it exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import free_port
from fakes import MASTER_KEY
from switchyard.local.aws import client
from switchyard.usage.recorder import day_of

pytestmark = pytest.mark.e2e
ROUTER = Path(__file__).resolve().parents[2] / "functions" / "router"
CONFIG = "providers: {mock: {kind: mock}}\nmodels: {m: {deployments: [{provider: mock, model: m}]}}\n"


def usage_items(resources: Any) -> list[Any]:
    dynamodb = client("dynamodb", resources.endpoint)
    try:
        found = dynamodb.query(
            TableName=resources.tables["StateTable"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"usage#default#{day_of(time.time())}"}},
            ConsistentRead=True,
        )
    finally:
        dynamodb.close()
    items: list[Any] = found["Items"]
    return items


def test_sigterm_writes_the_usage_a_router_holds(state_tables: Any, tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "STATE_TABLE": state_tables.tables["StateTable"],
        "CACHE_TABLE": state_tables.tables["CacheTable"],
        "SWITCHYARD_AWS_ENDPOINT_URL": state_tables.endpoint,
        "SWITCHYARD_STATE_TIMEOUT_S": "10",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SWITCHYARD_MASTER_KEY": MASTER_KEY,
        "SWITCHYARD_CONFIG": str(config),
        "SWITCHYARD_USAGE_FLUSH_S": "300",  # no timer and no later request writes it
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "on", "--no-access-log"]
    log = (tmp_path / "router.log").open("wb")
    router = subprocess.Popen(command, cwd=ROUTER, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {MASTER_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert router.poll() is None and time.monotonic() < deadline, "the router did not start"
                time.sleep(0.1)
            body = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}
            assert http.post("/v1/chat/completions", json=body).status_code == 200
        assert usage_items(state_tables) == []  # held in the instance's buffer
        router.terminate()  # SIGTERM, as Lambda sends it before reclaiming the instance
        # uvicorn shuts down gracefully (the lifespan's end writes what is buffered), then ends
        # itself with the signal it was given.
        assert router.wait(timeout=30) == -15
    finally:
        if router.poll() is None:
            router.kill()
            router.wait(timeout=10)
        log.close()
    [item] = usage_items(state_tables)
    assert item["requests"]["N"] == "1"
