"""How late usage reaches the aggregates (``GET /v1/usage``), per runtime, measured.

- local: ``make run`` as shipped (emulated AWS) with ``SWITCHYARD_USAGE_FLUSH_S``; one request,
  then the usage API is polled every 20 ms until it counts it, with no other request in between.
- Lambda: the router started as functions/router/run.sh starts it (uvicorn, state in DynamoDB on
  an embedded moto server). Frozen: after one request the process is stopped with SIGSTOP (what
  Lambda's freezer does) for longer than the flush interval, then continued and sent a request:
  the time from that request to the earlier usage in the table. SIGTERM: after one request, the
  time from SIGTERM to the process's exit, and whether the usage was in the table by then.

    .venv/bin/python benchmarks/usage_lag.py [--flush 5] [--samples 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from harness import KEY, PY, free_port, start_local

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
CONFIG = "providers: {mock: {kind: mock}}\nmodels: {m: {deployments: [{provider: mock, model: m}]}}\n"
# Each poll of the table is a request to the emulator, which serves DynamoDB one request at a
# time: polling much faster would queue the write being waited for behind the polls.
POLL_S = 0.02
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}


def wait_up(http: httpx.Client, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if http.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("did not start")


def counted(http: httpx.Client) -> int:
    return int(http.get("/v1/usage").json()["total"]["requests"])


def local_lags(workdir: Path, flush_s: float, samples: int) -> list[float]:
    port = free_port()
    config = workdir / "routing.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    lags = []
    with ExitStack() as stack:
        proc = start_local(stack, workdir, port, config, {"SWITCHYARD_USAGE_FLUSH_S": str(flush_s)})
        headers = {"Authorization": f"Bearer {KEY}"}
        http = stack.enter_context(
            httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
        )
        wait_up(http, proc)
        for _ in range(samples):
            before = counted(http)
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            answered = time.monotonic()
            while counted(http) == before:
                time.sleep(0.02)
            lags.append(time.monotonic() - answered)
    return lags


def router(
    stack: ExitStack, resources: Any, workdir: Path, flush_s: float
) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    config = workdir / "routing.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "STATE_TABLE": resources.tables["StateTable"],
        "CACHE_TABLE": resources.tables["CacheTable"],
        "SWITCHYARD_AWS_ENDPOINT_URL": resources.endpoint,
        "SWITCHYARD_STATE_TIMEOUT_S": "10",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SWITCHYARD_MASTER_KEY": KEY,
        "SWITCHYARD_CONFIG": str(config),
        "SWITCHYARD_USAGE_FLUSH_S": str(flush_s),
    }
    command = [PY, "-m", "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1", "--port", str(port)]
    log = stack.enter_context((workdir / "router.log").open("wb"))
    proc = subprocess.Popen(
        [*command, "--lifespan", "on", "--no-access-log"],
        cwd=ROOT / "functions" / "router",
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(lambda: proc.poll() is None and (proc.kill(), proc.wait(10)))
    headers = {"Authorization": f"Bearer {KEY}"}
    http = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30))
    wait_up(http, proc)
    return proc, http


def stored(dynamodb: Any, resources: Any) -> int:
    from switchyard.usage.recorder import day_of

    items = dynamodb.query(
        TableName=resources.tables["StateTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"usage#default#{day_of(time.time())}"}},
        ConsistentRead=True,
    )["Items"]
    return sum(int(item["requests"]["N"]) for item in items)


def lambda_lags(flush_s: float, samples: int) -> dict[str, list[float]]:
    from switchyard.local.aws import client, moto_server, provision

    thawed: list[float] = []
    written: list[float] = []
    exited: list[float] = []
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server())
        dynamodb = client("dynamodb", endpoint)  # one client: making one takes longer than a poll
        stack.callback(dynamodb.close)
        for i in range(samples):
            resources = provision(endpoint, prefix=f"lag{i}")
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            proc, http = router(stack, resources, workdir, flush_s)
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            proc.send_signal(signal.SIGSTOP)  # frozen, as between two Lambda invocations
            time.sleep(flush_s + 1)
            proc.send_signal(signal.SIGCONT)
            arrived = time.monotonic()
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            while stored(dynamodb, resources) < 1:
                time.sleep(POLL_S)
            thawed.append(time.monotonic() - arrived)
            # The second request is held again; SIGTERM must write it before the process ends.
            stopping = time.monotonic()
            proc.terminate()
            while stored(dynamodb, resources) < 2 and proc.poll() is None:
                time.sleep(POLL_S)
            written.append(time.monotonic() - stopping)
            proc.wait(30)
            exited.append(time.monotonic() - stopping)
            assert stored(dynamodb, resources) == 2, "SIGTERM did not write the held usage"
    return {
        "thawed_request_to_written_s": thawed,
        "sigterm_to_written_s": written,
        "sigterm_to_exit_s": exited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flush", type=float, default=5.0, help="SWITCHYARD_USAGE_FLUSH_S")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        local = local_lags(Path(tmp), args.flush, args.samples)
    lam = lambda_lags(args.flush, args.samples)
    results = {"flush_s": args.flush, "local_answer_to_visible_s": local, **lam}
    summary = {
        name: {"max": round(max(v), 3), "median": round(statistics.median(v), 3)}
        for name, v in results.items()
        if isinstance(v, list)
    }
    print(json.dumps({"samples": results, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
