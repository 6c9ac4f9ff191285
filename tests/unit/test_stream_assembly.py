"""StreamAssembly: a stream's chunks back into the completion they carried (what the cache stores
of a streamed answer): the inverse of chunks_of, and of upstream chunks as they really come."""

from __future__ import annotations

import json
from typing import Any

from switchyard.api.assembly import StreamAssembly
from switchyard.api.chat import ChatCompletion, Usage
from switchyard.api.stream import ChatCompletionChunk, chunks_of

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "up-a",
    "system_fingerprint": "fp_1",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"},
        {
            "index": 1,
            "message": {
                "role": "assistant",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "finish_reason": "tool_calls",
        },
        {"index": 2, "message": {"role": "assistant", "refusal": "No."}, "finish_reason": "stop"},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}


def assembled(chunks: list[ChatCompletionChunk]) -> StreamAssembly:
    assembly = StreamAssembly()
    for chunk in chunks:
        assembly.add(chunk)
    return assembly


def test_it_inverts_chunks_of() -> None:
    completion = ChatCompletion.model_validate(COMPLETION)
    assembly = assembled(chunks_of(completion))
    assert assembly.complete
    # chunks_of does not carry the fingerprint; everything else comes back.
    assert assembly.completion() == completion.model_copy(update={"system_fingerprint": None})


def test_upstream_deltas_are_joined_and_extra_fields_kept() -> None:
    raw = [
        {"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {
            "id": "c",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "Hel"}}],
            "citations": ["u1"],
        },
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {
            "id": "c",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "t1", "function": {"name": "f", "arguments": '{"x"'}}
                        ]
                    },
                }
            ],
        },
        {
            "id": "c",
            "model": "m",
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 2}"}}]}}
            ],
        },
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]
    assembly = assembled([ChatCompletionChunk.model_validate(r) for r in raw])
    body = json.loads(assembly.completion().to_json())
    assert body["id"] == "c" and body["created"] == 1 and body["citations"] == ["u1"]
    [choice] = body["choices"]
    assert choice["message"]["content"] == "Hello" and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}
    ]
    assert body["usage"]["completion_tokens"] == 4


def test_a_stream_without_every_finish_reason_is_incomplete_and_usage_can_stand_in() -> None:
    chunks = chunks_of(ChatCompletion.model_validate({**COMPLETION, "usage": None}))
    assert not assembled([]).complete
    cut = assembled([c for c in chunks if not any(ch.finish_reason == "tool_calls" for ch in c.choices)])
    assert not cut.complete  # choice 1 never finished
    whole = assembled(chunks)
    assert whole.completion().usage is None
    assert whole.completion(Usage(prompt_tokens=1, total_tokens=1)).usage == Usage(
        prompt_tokens=1, total_tokens=1
    )
