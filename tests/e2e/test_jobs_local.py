"""``make run`` runs the jobs worker: a job submitted over HTTP and one put straight on the
emulated queue both complete (the mock provider answers), and an Anthropic Messages job's result
is a message the ``anthropic`` SDK's types accept."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import pytest

from fakes import MASTER_KEY
from switchyard.keys.ids import key_id
from switchyard.local.aws import client as aws_client
from switchyard.local.template import local_name

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}
ANTHROPIC = {"model": "mock-1", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]}


def wait_done(client: httpx.Client, job_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("status") in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish in {timeout_s} s")


def test_jobs_over_http_and_straight_on_the_queue_complete(
    local_runtime: Callable[..., LocalRuntime],
) -> None:
    runtime = local_runtime()
    endpoint = re.search(r"emulated at (http://127\.0\.0\.1:\d+)", runtime.output())
    assert endpoint is not None
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=10, trust_env=False) as client:
        submitted = client.post("/v1/jobs", json={"request": CHAT})
        assert submitted.status_code == 202
        over_http = submitted.json()["data"][0]["id"]
        messages = client.post("/v1/jobs", json={"kind": "messages", "request": ANTHROPIC})
        assert messages.status_code == 202

        sqs = aws_client("sqs", endpoint.group(1))
        try:
            url = sqs.get_queue_url(QueueName=local_name("JobsQueue"))["QueueUrl"]
            message = {"job_id": "job_direct00001", "key_id": key_id(MASTER_KEY), "request": CHAT}
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
        finally:
            sqs.close()

        for job_id in (over_http, "job_direct00001"):
            job = wait_done(client, job_id)
            assert job["status"] == "succeeded", job
            assert job["result"]["choices"][0]["message"]["content"]
        done = wait_done(client, messages.json()["data"][0]["id"])
        assert done["status"] == "succeeded" and done["kind"] == "messages", done
        message = anthropic.types.Message.model_validate(done["result"])
        assert message.content[0].type == "text" and message.content[0].text


def test_the_cli_submits_a_jsonl_file_and_writes_the_results(
    local_runtime: Callable[..., LocalRuntime], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from switchyard.cli import main

    runtime = local_runtime()
    requests = tmp_path / "requests.jsonl"
    lines = [{**CHAT, "messages": [{"role": "user", "content": f"question {i}"}]} for i in range(5)]
    requests.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    argv = ["jobs", "submit", str(requests), "--out", str(out), "--batch", "2", "--poll", "0.1"]
    assert main([*argv, "--url", runtime.url, "--api-key", MASTER_KEY]) == 0
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert all(r["status"] == "succeeded" and r["result"]["choices"] for r in results)
    assert "5/5 jobs done" in capsys.readouterr().err
