"""The jobs wire contract: the shipped JSON Schema equals the model, ids, batches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchyard.jobs.schema import (
    JOB_MESSAGE,
    JOB_SPEC,
    ChatJobMessage,
    EmbeddingsJobMessage,
    JobBatch,
    MessagesJobMessage,
    MessagesJobSpec,
    idempotent_job_id,
    json_schema,
    new_job_id,
)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "jobs.schema.json"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
EMBEDDINGS = {"model": "e", "input": ["a", "b"]}


def test_the_shipped_json_schema_is_the_models() -> None:
    # docs/jobs.md shows the command that regenerates the file.
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()


def test_a_direct_producers_message_validates() -> None:
    message = JOB_MESSAGE.validate_python(
        {"job_id": "job_0123456789", "key_id": "tenant-a", "request": CHAT, "webhook_url": "https://x"}
    )
    assert isinstance(message, ChatJobMessage)  # no kind: a chat job, as before kinds existed
    assert (message.version, message.kind, message.metadata) == (1, "chat", {})


def test_a_messages_job_validates_its_request_as_an_anthropic_one() -> None:
    message = JOB_MESSAGE.validate_python(
        {"job_id": "job_0123456789", "key_id": "k", "kind": "messages", "request": ANTHROPIC}
    )
    assert isinstance(message, MessagesJobMessage) and message.request.max_tokens == 64
    spec = JOB_SPEC.validate_python({"kind": "messages", "request": {**ANTHROPIC, "system": "be brief"}})
    assert isinstance(spec, MessagesJobSpec) and spec.request.system == "be brief"
    with pytest.raises(ValidationError):  # an Anthropic request needs max_tokens
        JOB_MESSAGE.validate_python(
            {"job_id": "job_0123456789", "key_id": "k", "kind": "messages", "request": CHAT}
        )
    with pytest.raises(ValidationError):
        JOB_SPEC.validate_python({"kind": "completions", "request": CHAT})


def test_a_batch_mixes_kinds_and_the_schema_names_every_one() -> None:
    specs = JobBatch.model_validate(
        {
            "jobs": [
                {"request": CHAT},
                {"kind": "messages", "request": ANTHROPIC},
                {"kind": "embeddings", "request": EMBEDDINGS},
            ]
        }
    ).specs()
    assert [s.kind for s in specs] == ["chat", "messages", "embeddings"]
    variants = json_schema()["oneOf"]
    kinds = [json_schema()["$defs"][v["$ref"].rsplit("/", 1)[1]]["properties"]["kind"] for v in variants]
    assert [k.get("const") for k in kinds] == ["chat", "messages", "embeddings"]


def test_an_embeddings_job_validates_its_request_as_an_embeddings_one() -> None:
    message = JOB_MESSAGE.validate_python(
        {"job_id": "job_0123456789", "key_id": "k", "kind": "embeddings", "request": EMBEDDINGS}
    )
    assert isinstance(message, EmbeddingsJobMessage) and message.request.inputs == ["a", "b"]
    for request in (CHAT, {**EMBEDDINGS, "input": []}):  # a chat body, an empty input
        with pytest.raises(ValidationError):
            JOB_MESSAGE.validate_python(
                {"job_id": "job_0123456789", "key_id": "k", "kind": "embeddings", "request": request}
            )


@pytest.mark.parametrize(
    "change",
    [{"job_id": "1234"}, {"job_id": "job_x"}, {"key_id": ""}, {"version": 2}, {"extra": 1}, {"request": {}}],
)
def test_malformed_messages_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JOB_MESSAGE.validate_python({"job_id": "job_0123456789", "key_id": "k", "request": CHAT, **change})


def test_new_ids_sort_by_time_and_idempotent_ids_repeat() -> None:
    assert new_job_id(1000.0) < new_job_id(1000.002) and new_job_id(5.0) != new_job_id(5.0)
    assert idempotent_job_id("k", "i", 0) == idempotent_job_id("k", "i", 0)
    assert (
        len({idempotent_job_id("k", "i", 0), idempotent_job_id("k", "i", 1), idempotent_job_id("k2", "i", 0)})
        == 3
    )
    for job_id in (new_job_id(1.0), idempotent_job_id("k", "i", 0)):
        JOB_MESSAGE.validate_python({"job_id": job_id, "key_id": "k", "request": CHAT})


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
