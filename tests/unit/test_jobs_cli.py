"""``switchyard jobs submit``'s JSONL reading: bare requests, job objects, and ``kind``."""

from __future__ import annotations

import json
from pathlib import Path

from switchyard.cli.jobs import read_specs
from switchyard.jobs.schema import JobBatch

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


def test_lines_may_carry_a_kind_on_the_request_or_on_the_job(tmp_path: Path) -> None:
    lines = [
        CHAT,
        {"kind": "messages", **ANTHROPIC},
        {"kind": "messages", "request": ANTHROPIC, "metadata": {"doc": "c"}},
    ]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    specs = read_specs(path, "https://hooks.example.com/in")
    assert [s.get("kind") for s in specs] == [None, "messages", "messages"]
    assert specs[1]["request"] == ANTHROPIC  # kind moved off the request: neither dialect has it
    assert [s["metadata"] for s in specs] == [{"line": "1"}, {"line": "2"}, {"doc": "c", "line": "3"}]
    batch = JobBatch.model_validate({"jobs": specs}).specs()  # what POST /v1/jobs accepts
    assert [s.kind for s in batch] == ["chat", "messages", "messages"]
    assert all(s.webhook_url == "https://hooks.example.com/in" for s in batch)
