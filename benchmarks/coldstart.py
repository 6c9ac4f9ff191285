"""Cold start at Lambda's CPU share: the router's init and first request per memory size.

Lambda gives a function CPU in proportion to its memory (1,769 MB is one vCPU), in the init phase
too, and bills init. This benchmark starts the router exactly as ``functions/router/run.sh`` does
(``python3 -m uvicorn --factory app:create_app``: imports, ``create_app()``, the lifespan that
opens the gateway) in a fresh process inside a cgroup v1 ``cpu`` child group whose
``cpu.cfs_quota_us`` is memory / 1769 MB of one CPU, then does what the Lambda Web Adapter does:

    init            process start -> the first ``GET /health`` that answers 200 (the adapter's
                    readiness check, polled every 5 ms from outside the quota)
    first request   one ``POST /v1/chat/completions`` with a virtual key created beforehand: key
                    lookup, limits, breaker, budget context and cache on DynamoDB, one upstream call

The router runs on a Lambda-like Python: a virtualenv (``.bench/lambda-venv``, built on first use
with pip) holding only what Lambda has, the deps layer's ``layers/deps/requirements.txt`` and the
boto3/botocore that pyproject.toml pins for the runtime's, with ``shared/`` on ``PYTHONPATH`` as
the shared layer is. The development venv would measure packages Lambda never loads (moto's
pyOpenSSL and cryptography, SAM CLI's awscrt are picked up by botocore when present).

The process is configured as the template configures the router: state and cache tables, the
jobs queue and the master key secret on an embedded moto server, the webhook secret, the default
event bus; the upstream is a fake OpenAI server. moto, the upstream and the poller run in this
process, outside the quota. Several runs per size, sizes interleaved so that the shared machine's
drift reaches each alike; medians are reported, with the CPU time the process used (utime + stime,
which the quota does not change) and the ratio to the full-CPU run of the same benchmark.

    .venv/bin/python benchmarks/coldstart.py [--runs 5] [--sizes 256,512,1024,1769] [--json f]
        [--write LABEL]   also write the table into docs/benchmarks.md under "Cold start: LABEL"
        [--baseline DIR]  also start the router of another checkout of the repository (e.g. the
                          commit before a change, from ``git archive``), interleaved run by run
                          with this one, so that both see the same machine

Needs root (or a writable /sys/fs/cgroup/cpu) for the quota; without it the benchmark says so
loudly and measures at full CPU only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import free_port

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
FULL_CPU_MB = 1769
PERIOD_US = 100_000
MASTER = "sk-sy-coldstart-master"
POLL_S = 0.005
START_TIMEOUT_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

ANSWER = json.dumps(
    {
        "id": "chatcmpl-cold",
        "object": "chat.completion",
        "created": 0,
        "model": "cold-upstream",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }
).encode()


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ CPU quota


class Quota:
    """A cgroup v1 ``cpu`` child group of this benchmark's own; removed on close."""

    def __init__(self) -> None:
        self.path = CGROUP_CPU / f"switchyard-coldstart-{os.getpid()}"
        self.path.mkdir()
        (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))

    def set_share(self, share: float | None) -> None:
        quota = -1 if share is None else max(1000, round(PERIOD_US * share))
        (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def command(self, args: list[str]) -> list[str]:
        """``args`` started inside the group (the shell joins it, then execs them)."""
        procs = self.path / "cgroup.procs"
        return ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *args]

    def close(self) -> None:
        for _ in range(50):  # the group can be removed once its last process has gone
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def open_quota() -> tuple[Quota | None, str]:
    """The quota group, or None and why not."""
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        return None, f"no cgroup v1 cpu controller at {CGROUP_CPU} (cpu.cfs_quota_us missing)"
    try:
        return Quota(), ""
    except OSError as exc:
        return None, f"cannot create a cpu cgroup under {CGROUP_CPU}: {exc} (run as root)"


# ------------------------------------------------------------------------------ the router


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    keys: list[str]  # one virtual key per run: every cold start is a new instance, with new leases


def provision_stack(endpoint: str, up_port: int, workdir: Path, keys: int = 1) -> Stack:
    """The template's resources on moto, the secrets the router reads, a routing config with one
    model on the fake upstream, a virtual key; the router's environment as the template sets it."""
    from switchyard.local.aws import client, provision

    resources = provision(endpoint, prefix=f"cold{time.monotonic_ns()}")
    secrets = client("secretsmanager", endpoint)
    names = {}
    for env_name, value in (
        ("SWITCHYARD_MASTER_KEY_SECRET", json.dumps({"key": MASTER})),
        ("SWITCHYARD_WEBHOOK_SECRET_NAME", json.dumps({"key": "whsec-cold"})),
        ("SWITCHYARD_OPENAI_KEY_SECRET", json.dumps({"primary": "sk-upstream", "backup": "sk-backup"})),
    ):
        name = f"cold-{env_name.lower()}-{time.monotonic_ns()}"
        secrets.create_secret(Name=name, SecretString=value)
        names[env_name] = name
    secrets.close()
    config = workdir / "routing.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "providers": {
                    "up": {
                        "kind": "openai_compatible",
                        "base_url": f"http://127.0.0.1:{up_port}/v1",
                        # Read from Secrets Manager on first use, as the template's providers are.
                        "api_key": {"secret_env": "SWITCHYARD_OPENAI_KEY_SECRET"},
                    }
                },
                "models": {"cold": {"deployments": [{"provider": "up", "model": "cold-upstream"}]}},
                "limits": {"default": {"rpm": 6000, "tpm": 2_000_000}},
            }
        ),
        encoding="utf-8",
    )
    env = {
        "PATH": f"{lambda_python()}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        # The shared layer (/opt/python/switchyard in Lambda); run.sh puts its own paths first.
        "PYTHONPATH": str(ROOT / "shared"),
        "PORT": "0",  # set per run
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # Secrets Manager (Powertools parameters) and EventBridge clients honour this; the state
        # client is pointed by the switchyard setting below.
        "AWS_ENDPOINT_URL": endpoint,
        "SWITCHYARD_AWS_ENDPOINT_URL": endpoint,
        "POWERTOOLS_SERVICE_NAME": "switchyard",
        "POWERTOOLS_METRICS_NAMESPACE": "Switchyard",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "SWITCHYARD_CONFIG": str(config),
        "STATE_TABLE": resources.tables["StateTable"],
        "CACHE_TABLE": resources.tables["CacheTable"],
        "JOBS_QUEUE_URL": resources.queues["JobsQueue"],
        "SWITCHYARD_EVENT_BUS": "default",
        # moto answers one request at a time in Python: a slow emulator is not an outage.
        "SWITCHYARD_STATE_TIMEOUT_S": "10",
        **names,
    }
    return Stack(env, create_keys(env, keys))


def create_keys(env: dict[str, str], count: int) -> list[str]:
    """Virtual keys through the admin API of a gateway run in this process (not measured)."""
    import asyncio

    from switchyard.config.settings import RouterSettings
    from switchyard.http.app import create_app

    settings = RouterSettings.from_env({**env, "SWITCHYARD_MASTER_KEY": MASTER})
    # boto3 clients that the gateway builds without explicit settings read these from os.environ.
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})

    async def make() -> list[str]:
        app = create_app(settings)
        keys = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                for i in range(count):
                    r = await c.post(
                        "/admin/keys",
                        json={"tenant": "cold", "name": f"coldstart-{i}"},
                        headers={"Authorization": f"Bearer {MASTER}"},
                    )
                    r.raise_for_status()
                    keys.append(str(r.json()["key"]))
        return keys

    return asyncio.run(make())


def lambda_python() -> Path:
    """The bin directory of a venv with the deps layer and the runtime's boto3 (built once)."""
    import hashlib
    import tomllib

    venv = ROOT / ".bench" / "lambda-venv"
    requirements = (ROOT / "layers" / "deps" / "requirements.txt").read_text(encoding="utf-8")
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["dev"]
    runtime = [pin for pin in dev if pin.startswith(("boto3==", "botocore=="))]
    stamp = hashlib.sha256((requirements + "\n".join(runtime)).encode()).hexdigest()
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != stamp:
        print("building .bench/lambda-venv (deps layer + boto3)", file=sys.stderr)
        subprocess.run(
            [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--clear", str(venv)], check=True
        )
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "layers" / "deps" / "requirements.txt"), *runtime], check=True)
        marker.write_text(stamp)
    return venv / "bin"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def one_run(
    stack: Stack, key: str, quota: Quota | None, share: float | None, tree: Path = ROOT
) -> dict[str, float]:
    port = free_port()
    args = ["/bin/bash", str(tree / "functions" / "router" / "run.sh")]
    if quota is not None:
        quota.set_share(share)
        args = quota.command(args)
    env = {**stack.env, "PORT": str(port), "PYTHONPATH": str(tree / "shared")}
    base = f"http://127.0.0.1:{port}"
    body = {"model": "cold", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 5}
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(timeout=30.0) as http:
            init = _wait_ready(http, f"{base}/health", started, proc)
            init_cpu = cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            r = http.post(
                f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            first = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"first request answered {r.status_code}: {r.text[:300]}")
            total_cpu = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return {"init_s": init, "first_s": first, "init_cpu_s": init_cpu, "first_cpu_s": total_cpu - init_cpu}


def _wait_ready(http: httpx.Client, url: str, started: float, proc: subprocess.Popen[bytes]) -> float:
    while time.perf_counter() - started < START_TIMEOUT_S:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the router exited with {proc.returncode}: {stderr[-2000:]}")
        try:
            if http.get(url, timeout=1.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(POLL_S)
    raise RuntimeError("the router did not become ready")


# ------------------------------------------------------------------------------ the run


def run(sizes: list[int], runs: int, trees: dict[str, Path]) -> dict[str, Any]:
    from switchyard.local.aws import moto_server

    quota, why_not = open_quota()
    if quota is None:
        print(f"*** CPU QUOTAS UNAVAILABLE: {why_not}\n*** measuring at full CPU only", file=sys.stderr)
        sizes = [FULL_CPU_MB]
    samples: dict[str, list[dict[str, float]]] = {f"{t}@{size}": [] for t in trees for size in sizes}
    with ExitStack() as stack:
        if quota is not None:
            stack.callback(quota.close)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        endpoint = stack.enter_context(moto_server())
        up_port = stack.enter_context(upstream())
        router = provision_stack(endpoint, up_port, tmp, keys=len(trees) * (runs * len(sizes) + 1))
        keys = iter(router.keys)
        for tree in trees.values():  # warms the page cache and __pycache__ (Lambda's disk is warm too)
            one_run(router, next(keys), quota, None, tree)
        for i in range(runs):
            for size in sizes if i % 2 == 0 else reversed(sizes):
                for name, tree in trees.items() if i % 2 == 0 else reversed(trees.items()):
                    share = min(1.0, size / FULL_CPU_MB) if quota is not None else None
                    sample = one_run(router, next(keys), quota, share, tree)
                    samples[f"{name}@{size}"].append(sample)
                    print(
                        f"run {i + 1} {name} {size} MB: init {sample['init_s'] * 1000:.0f} ms, "
                        f"first request {sample['first_s'] * 1000:.0f} ms, "
                        f"init CPU {sample['init_cpu_s'] * 1000:.0f} ms",
                        file=sys.stderr,
                    )
    medians = {
        label: {k: statistics.median(s[k] for s in runs_) for k in runs_[0]}
        for label, runs_ in samples.items()
    }
    return {
        "quota": quota is not None,
        "why_not": why_not,
        "runs": runs,
        "medians": medians,
        "samples": samples,
    }


def report(result: dict[str, Any]) -> str:
    medians: dict[str, dict[str, float]] = result["medians"]
    lines = [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}, load average {os.getloadavg()[0]:.2f} at the end",
        f"runs per size: {result['runs']} (medians)"
        + ("" if result["quota"] else f"; NO CPU QUOTA ({result['why_not']})"),
        "",
        "| tree | memory MB | CPU share | init ms | first request ms | init + first ms | x full CPU "
        "| init CPU ms | first request CPU ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, m in sorted(medians.items(), key=lambda kv: (kv[0].split("@")[0], int(kv[0].split("@")[1]))):
        tree, size = label.split("@")
        full = medians.get(f"{tree}@{FULL_CPU_MB}")
        share = min(1.0, int(size) / FULL_CPU_MB)
        total = m["init_s"] + m["first_s"]
        ratio = total / (full["init_s"] + full["first_s"]) if full else float("nan")
        lines.append(
            f"| {tree} | {size} | {share:.3f} | {m['init_s'] * 1000:.0f} | {m['first_s'] * 1000:.0f} "
            f"| {total * 1000:.0f} | {ratio:.2f} | {m['init_cpu_s'] * 1000:.0f} "
            f"| {m['first_cpu_s'] * 1000:.0f} |"
        )
    return "\n".join(lines)


def write_section(label: str, text: str, doc: Path = DOC) -> None:
    """Replace (or append) the "### Cold start: <label>" block of docs/benchmarks.md."""
    heading = f"### Cold start: {label}"
    current = doc.read_text(encoding="utf-8")
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    block = f"{heading}\n\n{text}\n"
    if start is None:
        doc.write_text(current.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    tail = "".join(lines[end:])
    doc.write_text("".join(lines[:start]) + block + ("\n" + tail if tail else ""), encoding="utf-8")


PROFILED = """
import asyncio, sys, time
t0 = time.perf_counter()
sys.path.insert(0, "functions/router")
import httpx
from pyinstrument import Profiler

profiler = Profiler(interval=0.0005)
profiler.start()
import app

async def main() -> None:
    application = app.create_app()
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            r = await c.post("/v1/chat/completions", headers={"Authorization": "Bearer " + sys.argv[1]},
                             json={"model": "cold", "messages": [{"role": "user", "content": "Hi"}]})
            assert r.status_code == 200, r.text

asyncio.run(main())
profiler.stop()
print(profiler.output_text(unicode=False, color=False, show_all=False, timeline=False))
"""


PHASES = """
import asyncio, json, os, sys, time
T = time.process_time
marks = [("interpreter", T())]
def mark(name):
    marks.append((name, T()))
import uvicorn, uvloop, httptools
mark("uvicorn, uvloop, httptools")
import fastapi
mark("fastapi (starlette, pydantic)")
import switchyard.http
from switchyard.config.settings import RouterSettings
mark("settings model")
import switchyard.compose.gateway
mark("gateway core modules (routing, providers, state, budgets, jobs service)")
import switchyard.http.chat, switchyard.http.messages
mark("chat + messages routes (their OpenAPI JSON schemas included)")
import switchyard.http.jobs
mark("jobs routes")
import switchyard.http.admin, switchyard.http.usage
mark("admin + usage routes")
import switchyard.http.app
sys.path.insert(0, "functions/router")
import app
application = app.create_app()
mark("rest of the app, create_app()")
from switchyard.providers.http import build_client
client = build_client(None)
mark("provider HTTP client (httpx-aiohttp import, SSL context)")
from aws_lambda_powertools.utilities import parameters
mark("Powertools parameters import (boto3, s3transfer)")
from switchyard.compose.secrets import read_secret_key
read_secret_key(os.environ["SWITCHYARD_MASTER_KEY_SECRET"])
mark("master key secret read (Secrets Manager client + call)")
from switchyard.compose.state import dynamo_client
dynamo_client(RouterSettings.from_env())
mark("DynamoDB client")
import httpx
async def main():
    async with application.router.lifespan_context(application):
        mark("lifespan (the rest: second clients, jobs, webhook secret, gc.freeze)")
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            r = await c.post("/v1/chat/completions", headers={"Authorization": "Bearer " + sys.argv[1]},
                             json={"model": "cold", "messages": [{"role": "user", "content": "Hi"}]})
            assert r.status_code == 200, r.text
        mark("first request")
asyncio.run(main())
print(json.dumps([(b[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]))
"""


def phases(runs: int) -> list[tuple[str, float]]:
    """CPU seconds of each step of a cold start (the least of ``runs`` fresh processes), in one
    process on the Lambda-like Python: where init CPU goes."""
    from switchyard.local.aws import moto_server

    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint, upstream() as up_port:
        stack = provision_stack(endpoint, up_port, Path(tmp), keys=runs)
        env = {**stack.env, "PYTHONPATH": f"{ROOT / 'functions' / 'router'}:{ROOT / 'shared'}"}
        python = str(lambda_python() / "python")
        best: dict[str, float] = {}
        order: list[str] = []
        for key in stack.keys:
            out = subprocess.run(
                [python, "-c", PHASES, key], env=env, cwd=ROOT, capture_output=True, text=True, check=True
            )
            for name, cpu in json.loads(out.stdout.strip().splitlines()[-1]):
                if name not in best:
                    order.append(name)
                best[name] = min(best.get(name, cpu), cpu)
        empty = subprocess.run(
            [python, "-c", "import time; print(time.process_time())"],
            capture_output=True,
            text=True,
            check=True,
        )
        return [("interpreter start", float(empty.stdout))] + [(name, best[name]) for name in order]


def profile(out: Path) -> None:
    """Init and first request in one process under pyinstrument (``pip install pyinstrument``),
    and ``python -X importtime`` of the same start; both written next to ``out``."""
    from switchyard.local.aws import moto_server

    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint, upstream() as up_port:
        stack = provision_stack(endpoint, up_port, Path(tmp))
        env = {**stack.env, "PYTHONPATH": f"{ROOT / 'functions' / 'router'}:{ROOT / 'shared'}"}
        python = str(lambda_python() / "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "pyinstrument"], check=True)
        run_ = subprocess.run(
            [python, "-c", PROFILED, stack.keys[0]], env=env, cwd=ROOT, capture_output=True, text=True
        )
        out.write_text(run_.stdout + run_.stderr[-3000:], encoding="utf-8")
        imports = subprocess.run(
            [python, "-X", "importtime", "-c", PROFILED.replace("profiler.st", "pass  # "), stack.keys[0]],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        out.with_suffix(".importtime").write_text(imports.stderr, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="256,512,1024,1769")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write", metavar="LABEL")
    parser.add_argument("--profile", type=Path, metavar="OUT", help="profile init in-process instead")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout, interleaved")
    parser.add_argument("--phases", type=int, metavar="RUNS", help="CPU per start-up step instead")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.profile:
        profile(args.profile)
        return
    if args.phases:
        steps = phases(args.phases)
        print("| step | CPU ms (least of runs, full core) |\n|---|---|")
        for name, cpu in steps:
            print(f"| {name} | {cpu * 1000:.0f} |")
        print(f"| **total** | **{sum(c for _, c in steps) * 1000:.0f}** |")
        return
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    result = run([int(s) for s in args.sizes.split(",")], args.runs, trees)
    text = report(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
