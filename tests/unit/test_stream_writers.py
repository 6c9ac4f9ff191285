"""The client dialect writers: canonical chunks → OpenAI SSE or Anthropic events."""

from __future__ import annotations

import json
from typing import Any

from switchyard.api.chat import PromptTokensDetails, Usage
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta
from switchyard.errors import Kind, ProviderError
from switchyard.http.sse import AnthropicWriter, OpenAIWriter

USAGE = Usage(
    prompt_tokens=12,
    completion_tokens=5,
    total_tokens=17,
    prompt_tokens_details=PromptTokensDetails(cached_tokens=2),
)


def _chunk(delta: Delta | None = None, finish: str | None = None, index: int = 0) -> ChatCompletionChunk:
    choice = ChunkChoice(index=index, delta=delta or Delta(), finish_reason=finish)
    return ChatCompletionChunk(id="chatcmpl-9", created=1, model="up", choices=[choice])


def _tool(index: int, id: str | None = None, name: str | None = None, args: str = "") -> Delta:
    return Delta(
        tool_calls=[
            ToolCallDelta(
                index=index,
                id=id,
                type="function" if id else None,
                function=FunctionCallDelta(name=name, arguments=args),
            )
        ]
    )


STREAM = [
    _chunk(Delta(role="assistant", content="")),
    _chunk(Delta(content="Hel")),
    _chunk(Delta(content="lo")),
    _chunk(_tool(0, "call_a", "get_weather")),
    _chunk(_tool(0, args='{"city"')),
    _chunk(_tool(0, args=': "Oslo"}')),
    _chunk(_tool(1, "call_b", "get_time", "{}")),
    _chunk(finish="tool_calls"),
    ChatCompletionChunk(id="chatcmpl-9", created=1, model="up", usage=USAGE),
]


def _data_lines(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
            out.append((lines[0][7:], json.loads(lines[1][6:])))
    return out


def test_openai_writer_with_include_usage() -> None:
    writer = OpenAIWriter(include_usage=True)
    raw = b"".join(writer.chunk(c) for c in STREAM) + writer.end(USAGE, "0.0000100000")

    assert raw.endswith(b": x-switchyard-cost-usd=0.0000100000\n\ndata: [DONE]\n\n")
    lines = _data_lines(raw)
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert len(chunks) == len(STREAM)
    assert chunks[1]["choices"][0] == {"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 17


def test_openai_writer_without_include_usage_drops_the_usage_chunk() -> None:
    writer = OpenAIWriter(include_usage=False)
    raw = b"".join(writer.chunk(c) for c in STREAM) + writer.end(USAGE, "0")
    chunks = [json.loads(line) for line in _data_lines(raw)[:-1]]
    assert len(chunks) == len(STREAM) - 1
    assert all("usage" not in c for c in chunks)


def test_openai_writer_strips_usage_from_a_content_chunk_unless_asked() -> None:
    both = ChatCompletionChunk(id="x", model="up", choices=[ChunkChoice(finish_reason="stop")], usage=USAGE)
    assert "usage" not in json.loads(_data_lines(OpenAIWriter(include_usage=False).chunk(both))[0])
    writer = OpenAIWriter(include_usage=True)
    assert "usage" in json.loads(_data_lines(writer.chunk(both))[0])
    assert b'"usage"' not in writer.end(USAGE, "0")  # already sent: not twice


def test_openai_writer_adds_the_estimate_when_the_upstream_sent_no_usage() -> None:
    writer = OpenAIWriter(include_usage=True)
    raw = b"".join(writer.chunk(c) for c in STREAM[:-1]) + writer.end(USAGE, "0")
    final = json.loads(_data_lines(raw)[-2])
    assert final["choices"] == [] and final["usage"]["prompt_tokens"] == 12 and final["id"] == "chatcmpl-9"


def test_openai_error_event_is_what_the_sdk_raises_on_and_ends_the_stream() -> None:
    raw = OpenAIWriter(include_usage=False).error(ProviderError(Kind.TIMEOUT, "Too slow."), "0.1")
    [line] = _data_lines(raw)
    assert json.loads(line) == {
        "error": {"message": "Too slow.", "type": "timeout_error", "code": "timeout", "param": None}
    }
    assert b"[DONE]" not in raw


def test_anthropic_writer_event_sequence() -> None:
    writer = AnthropicWriter(fallback_id="req1", model="public")
    raw = b"".join(writer.chunk(c) for c in STREAM) + writer.end(USAGE, "0.5")
    events = _events(raw)

    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(payload["type"] == name for name, payload in events)
    message = events[0][1]["message"]
    assert (message["id"], message["model"], message["content"]) == ("msg_chatcmpl-9", "up", [])
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Hel"}
    assert events[5][1]["content_block"] == {
        "type": "tool_use",
        "id": "call_a",
        "name": "get_weather",
        "input": {},
    }
    assert events[6][1] == {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"city"'},
    }
    assert events[9][1]["index"] == 2 and events[10][1]["index"] == 2
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    # Anthropic's input_tokens excludes cache reads.
    assert delta["usage"] == {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}
    assert b": x-switchyard-cost-usd=0.5\n\n" in raw


def test_anthropic_writer_end_of_an_empty_stream_is_still_a_whole_message() -> None:
    events = _events(AnthropicWriter(fallback_id="req1", model="public").end(Usage(), "0"))
    assert [name for name, _ in events] == ["message_start", "message_delta", "message_stop"]
    assert events[0][1]["message"]["id"] == "msg_req1"
    assert events[0][1]["message"]["model"] == "public"


def test_anthropic_error_event() -> None:
    writer = AnthropicWriter(fallback_id="r", model="m")
    writer.chunk(STREAM[1])
    raw = writer.error(ProviderError(Kind.OVERLOADED, "Busy."), "0")
    [(name, payload)] = _events(raw)
    assert name == "error"
    assert payload == {"type": "error", "error": {"type": "overloaded_error", "message": "Busy."}}


def test_anthropic_writer_ignores_other_choices() -> None:
    writer = AnthropicWriter(fallback_id="r", model="m")
    raw = writer.chunk(_chunk(Delta(content="second answer"), index=1))
    assert [name for name, _ in _events(raw)] == ["message_start"]
