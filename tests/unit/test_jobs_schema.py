"""The jobs wire contract: the shipped JSON Schema equals the model, ids, batches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchyard.jobs.schema import JobBatch, JobMessage, idempotent_job_id, json_schema, new_job_id

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "jobs.schema.json"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_the_shipped_json_schema_is_the_models() -> None:
    # docs/jobs.md shows the command that regenerates the file.
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()


def test_a_direct_producers_message_validates() -> None:
    message = JobMessage.model_validate(
        {"job_id": "job_0123456789", "key_id": "tenant-a", "request": CHAT, "webhook_url": "https://x"}
    )
    assert (message.version, message.kind, message.metadata) == (1, "chat", {})


@pytest.mark.parametrize(
    "change",
    [{"job_id": "1234"}, {"job_id": "job_x"}, {"key_id": ""}, {"version": 2}, {"extra": 1}, {"request": {}}],
)
def test_malformed_messages_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobMessage.model_validate({"job_id": "job_0123456789", "key_id": "k", "request": CHAT, **change})


def test_new_ids_sort_by_time_and_idempotent_ids_repeat() -> None:
    assert new_job_id(1000.0) < new_job_id(1000.002) and new_job_id(5.0) != new_job_id(5.0)
    assert idempotent_job_id("k", "i", 0) == idempotent_job_id("k", "i", 0)
    assert (
        len({idempotent_job_id("k", "i", 0), idempotent_job_id("k", "i", 1), idempotent_job_id("k2", "i", 0)})
        == 3
    )
    for job_id in (new_job_id(1.0), idempotent_job_id("k", "i", 0)):
        JobMessage.model_validate({"job_id": job_id, "key_id": "k", "request": CHAT})


def test_batch_defaults_apply_to_jobs_without_their_own() -> None:
    batch = JobBatch.model_validate(
        {
            "jobs": [
                {"request": CHAT},
                {"request": CHAT, "metadata": {"own": "1"}, "webhook_url": "https://b"},
            ],
            "metadata": {"batch": "1"},
            "webhook_url": "https://a",
        }
    )
    specs = batch.specs()
    assert [(s.metadata, s.webhook_url) for s in specs] == [
        ({"batch": "1"}, "https://a"),
        ({"own": "1"}, "https://b"),
    ]


def test_job_ids_made_in_the_same_millisecond_still_sort_in_order() -> None:
    from switchyard.jobs.schema import new_job_id

    ids = [new_job_id(1_800_000_000.0) for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
