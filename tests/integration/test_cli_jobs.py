"""``switchyard jobs redrive`` against moto's queues (the template's jobs queue and its DLQ), and the
JSONL reading and progress bar of ``jobs submit``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from switchyard.cli import main
from switchyard.cli.jobs import progress, read_specs
from switchyard.local.aws import client as aws_client


def test_redrive_moves_every_dead_letter_back_to_the_queue(state_tables: Any) -> None:
    sqs = aws_client("sqs", state_tables.endpoint)
    try:
        dlq, queue = state_tables.queues["JobsDeadLetterQueue"], state_tables.queues["JobsQueue"]
        bodies = [json.dumps({"job_id": f"job_dead000{i}"}) for i in range(12)]
        for body in bodies:
            sqs.send_message(QueueUrl=dlq, MessageBody=body)
        argv = [
            "jobs",
            "redrive",
            "--dlq-url",
            dlq,
            "--queue-url",
            queue,
            "--endpoint-url",
            state_tables.endpoint,
        ]
        assert main(argv) == 0
        moved = []
        for _ in range(5):
            answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            moved += [m["Body"] for m in answer.get("Messages", [])]
        assert sorted(moved) == sorted(bodies)
        left = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"
    finally:
        sqs.close()


def test_jsonl_lines_become_jobs_tagged_with_their_line(tmp_path: Path) -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(chat) + "\n\n" + json.dumps({"request": chat, "metadata": {"a": "b"}}) + "\n")
    specs = read_specs(path, "https://hooks.example.com/x")
    assert [s["metadata"] for s in specs] == [{"line": "1"}, {"a": "b", "line": "3"}]
    assert all(s["request"] == chat and s["webhook_url"] == "https://hooks.example.com/x" for s in specs)


def test_progress_is_plain_text_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    progress(3, 10, width=10)
    progress(10, 10, width=10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["[###.......] 3/10 jobs done", "[##########] 10/10 jobs done"]
