"""Translation between OpenAI Chat Completions and Anthropic Messages, in both directions."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.api.anthropic import AnthropicRequest, AnthropicResponse
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.dialects.anthropic import anthropic_response_from_chat, chat_request_from_anthropic
from switchyard.errors import InvalidRequestError, Kind, ProviderError
from switchyard.providers.anthropic_wire import (
    DEFAULT_MAX_TOKENS,
    from_anthropic_response,
    to_anthropic_request,
)


def _req(messages: list[dict[str, Any]] | None = None, **kw: Any) -> ChatRequest:
    body: dict[str, Any] = {"model": "claude", "messages": messages or [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return ChatRequest.model_validate(body)


def _body(messages: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    return to_anthropic_request(_req(messages, **kw), "claude-haiku-4-5")


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


# --- request: OpenAI → Anthropic -------------------------------------------------------------------


def test_minimal_request() -> None:
    assert _body() == {
        "model": "claude-haiku-4-5",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [_text("hi")]}],
    }


def test_system_and_developer_messages_are_joined_into_system() -> None:
    body = _body(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Late rule."},
        ]
    )
    assert body["system"] == "Be brief.\n\nAnswer in French.\n\nLate rule."
    assert body["messages"] == [{"role": "user", "content": [_text("hi")]}]


def test_system_with_cache_control_keeps_block_form() -> None:
    cached = {"type": "text", "text": "Long manual.", "cache_control": {"type": "ephemeral"}}
    body = _body([{"role": "system", "content": [cached]}, {"role": "user", "content": "hi"}])
    assert body["system"] == [cached]


def test_multi_turn_with_consecutive_same_role_merged() -> None:
    body = _body(
        [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "four"},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": [_text("one"), _text("two")]},
        {"role": "assistant", "content": [_text("three")]},
        {"role": "user", "content": [_text("four")]},
    ]


def test_images_become_base64_or_url_sources() -> None:
    content = [
        {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    body = _body([{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "data:text/plain,hello", "file:///etc/passwd"])
def test_unsupported_image_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        _body([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
    assert info.value.param == "messages[0].content"


def test_audio_parts_are_rejected() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}
    with pytest.raises(InvalidRequestError, match="input_audio"):
        _body([{"role": "user", "content": [part]}])


def test_tool_round_trip_messages() -> None:
    body = _body(
        [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "c2", "type": "function", "function": {"name": "clock", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "12:00"}]},
            {"role": "user", "content": "Thanks, and Rome?"},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": [_text("Weather in Paris and Rome?")]},
        {
            "role": "assistant",
            "content": [
                _text("Let me check."),
                {"type": "tool_use", "id": "c1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "c2", "name": "clock", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "12:00"},
                _text("Thanks, and Rome?"),
            ],
        },
    ]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"'])
def test_malformed_tool_arguments_are_invalid_request(arguments: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    with pytest.raises(InvalidRequestError) as info:
        _body([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}])
    assert info.value.kind is Kind.INVALID_REQUEST
    assert info.value.status == 400


def test_tool_message_without_id_and_function_role_are_rejected() -> None:
    with pytest.raises(InvalidRequestError):
        _body([{"role": "tool", "content": "x"}])
    with pytest.raises(InvalidRequestError, match="function"):
        _body([{"role": "function", "name": "f", "content": "x"}])


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Get weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "clock"}},
]


def test_tools_are_translated() -> None:
    assert _body(tools=TOOLS)["tools"] == [
        {
            "name": "weather",
            "description": "Get weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "clock", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "clock"}}, None, {"type": "tool", "name": "clock"}),
        (None, None, None),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body = _body(tools=TOOLS, tool_choice=choice, parallel_tool_calls=parallel)
    assert body.get("tool_choice") == expected


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in _body(tool_choice="auto")


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, DEFAULT_MAX_TOKENS),
        ({"max_tokens": 100}, 100),
        ({"max_tokens": 100, "max_completion_tokens": 50}, 50),
    ],
)
def test_max_tokens(kw: dict[str, Any], expected: int) -> None:
    assert _body(**kw)["max_tokens"] == expected


def test_sampling_stop_and_user() -> None:
    body = _body(temperature=1.7, top_p=0.9, stop="END", user="user-42")
    assert body["temperature"] == 1.0
    assert body["top_p"] == 0.9
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "user-42"}
    assert _body(temperature=0.4, stop=["a", "b"])["temperature"] == 0.4
    assert _body(stop=["a", "b"])["stop_sequences"] == ["a", "b"]


def test_openai_only_fields_are_not_sent() -> None:
    body = _body(
        presence_penalty=1,
        frequency_penalty=1,
        seed=3,
        logprobs=True,
        metadata={"mock_fault": "x"},
        response_format={"type": "json_object"},
        cache={"ttl": 5},
        n=1,
    )
    assert set(body) == {"model", "max_tokens", "messages"}


def test_n_above_one_is_rejected() -> None:
    with pytest.raises(InvalidRequestError) as info:
        _body(n=2)
    assert info.value.param == "n"


# --- response: Anthropic → OpenAI ------------------------------------------------------------------


def _message(
    content: list[dict[str, Any]], stop_reason: str | None = "end_turn", **usage: int
) -> AnthropicResponse:
    return AnthropicResponse.model_validate(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
        }
    )


def test_text_blocks_are_joined_and_thinking_is_dropped() -> None:
    msg = _message(
        [{"type": "thinking", "thinking": "hmm", "signature": "s"}, _text("Hello "), _text("world")]
    )
    completion = from_anthropic_response(msg)
    assert completion.id == "msg_01"
    assert completion.created > 1_700_000_000
    assert completion.model == "claude-haiku-4-5-20251001"
    assert completion.choices[0].message.content == "Hello world"
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"


def test_completion_parses_with_the_openai_sdk() -> None:
    import openai.types.chat  # here, not at the top: the SDK takes ~1 s to import

    msg = _message([_text("Hi")], "max_tokens", cache_read_input_tokens=3)
    sdk = openai.types.chat.ChatCompletion.model_validate(from_anthropic_response(msg).model_dump())
    assert sdk.choices[0].finish_reason == "length"
    assert sdk.usage is not None and sdk.usage.prompt_tokens == 13


def test_tool_use_becomes_tool_calls() -> None:
    msg = _message(
        [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris", "days": 2}}],
        stop_reason="tool_use",
    )
    choice = from_anthropic_response(msg).choices[0]
    assert choice.message.content is None
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.type, call.function.name) == ("toolu_1", "function", "weather")
    assert call.function.arguments == '{"city": "Paris", "days": 2}'


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, None),
    ],
)
def test_stop_reasons(stop_reason: str | None, finish: str | None) -> None:
    assert from_anthropic_response(_message([_text("x")], stop_reason)).choices[0].finish_reason == finish


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    msg = _message(
        [_text("x")],
        input_tokens=10,
        output_tokens=5,
        cache_read_input_tokens=100,
        cache_creation_input_tokens=20,
    )
    usage = from_anthropic_response(msg).usage
    assert usage is not None
    assert usage.prompt_tokens == 130
    assert usage.completion_tokens == 5
    assert usage.total_tokens == 135
    assert usage.cached_tokens == 100
    assert usage.cache_creation_input_tokens == 20


def test_usage_without_cache_fields() -> None:
    usage = from_anthropic_response(_message([_text("x")])).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.total_tokens, usage.cached_tokens) == (10, 15, 0)
    assert usage.cache_creation_input_tokens is None


# --- inbound: Anthropic request → ChatRequest, ChatCompletion → Anthropic response -----------------

ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 512,
    "system": "You are terse.",
    "messages": [
        {
            "role": "user",
            "content": [
                _text("Look:"),
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                _text("Checking."),
                {"type": "tool_use", "id": "t1", "name": "weather", "input": {"q": 1}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}, _text("So?")],
        },
    ],
    "tools": [{"name": "weather", "description": "d", "input_schema": {"type": "object", "properties": {}}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "stop_sequences": ["STOP"],
    "temperature": 0.5,
    "top_p": 0.8,
    "metadata": {"user_id": "u-1"},
}


def test_anthropic_request_to_chat_request() -> None:
    chat = chat_request_from_anthropic(AnthropicRequest.model_validate(ANTHROPIC_REQUEST))
    dumped = chat.model_dump(exclude_none=True)
    assert dumped["max_tokens"] == 512
    assert dumped["stop"] == ["STOP"]
    assert dumped["user"] == "u-1"
    assert dumped["tool_choice"] == "required"
    assert dumped["parallel_tool_calls"] is False
    assert dumped["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    roles = [m["role"] for m in dumped["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert dumped["messages"][1]["content"][1]["image_url"]["url"] == "data:image/jpeg;base64,/9j/4AAQ"
    assistant = dumped["messages"][2]
    assert assistant["content"] == "Checking."
    assert assistant["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"q": 1}'}
    assert dumped["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": "sunny"}


def test_anthropic_request_survives_a_round_trip() -> None:
    original = AnthropicRequest.model_validate(ANTHROPIC_REQUEST)
    again = to_anthropic_request(chat_request_from_anthropic(original), "claude-sonnet-4-5")
    expected = original.model_dump(exclude_none=True)
    # The Anthropic SDK would accept it too (same shape as what the SDK sent).
    assert AnthropicRequest.model_validate(again).model_dump(exclude_none=True) == expected


def test_anthropic_metadata_extras_reach_chat_metadata() -> None:
    body = {
        **ANTHROPIC_REQUEST,
        "metadata": {"user_id": "u", "mock_fault": "529"},
        "cache": {"no-store": True},
    }
    chat = chat_request_from_anthropic(AnthropicRequest.model_validate(body))
    assert chat.metadata == {"mock_fault": "529"}
    assert chat.cache is not None and chat.cache.no_store


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "weather"}, {"type": "function", "function": {"name": "weather"}}),
    ],
)
def test_anthropic_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    chat = chat_request_from_anthropic(
        AnthropicRequest.model_validate({**ANTHROPIC_REQUEST, "tool_choice": choice})
    )
    assert chat.tool_choice == expected
    assert chat.parallel_tool_calls is None


def test_anthropic_system_blocks_and_unsupported_blocks() -> None:
    blocks = [_text("a"), _text("b")]
    chat = chat_request_from_anthropic(
        AnthropicRequest.model_validate({**ANTHROPIC_REQUEST, "system": blocks})
    )
    assert chat.messages[0].content == "a\n\nb"
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    bad = {**ANTHROPIC_REQUEST, "messages": [{"role": "user", "content": [doc]}]}
    with pytest.raises(InvalidRequestError, match="document"):
        chat_request_from_anthropic(AnthropicRequest.model_validate(bad))


def _completion(
    message: dict[str, Any], finish: str | None = "stop", usage: dict[str, Any] | None = None
) -> Any:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-9",
            "created": 1,
            "model": "gpt-4o",
            "usage": usage,
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        }
    )


def test_completion_to_anthropic_response() -> None:
    completion = _completion(
        {
            "content": "Sure.",
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x": [1]}'}}],
        },
        "tool_calls",
        {
            "prompt_tokens": 130,
            "completion_tokens": 5,
            "total_tokens": 135,
            "prompt_tokens_details": {"cached_tokens": 100},
            "cache_creation_input_tokens": 20,
        },
    )
    response = anthropic_response_from_chat(completion)
    dumped = response.model_dump(exclude_none=True)
    assert dumped["id"] == "msg_chatcmpl-9"
    assert dumped["model"] == "gpt-4o"
    assert dumped["content"] == [
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": [1]}},
    ]
    assert dumped["stop_reason"] == "tool_use"
    assert dumped["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
    }
    import anthropic.types  # here, not at the top: the SDK takes ~2 s to import

    sdk = anthropic.types.Message.model_validate(response.model_dump())
    assert sdk.content[1].type == "tool_use"
    assert sdk.usage.cache_read_input_tokens == 100


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reason_to_stop_reason(finish: str, stop_reason: str) -> None:
    assert anthropic_response_from_chat(_completion({"content": "x"}, finish)).stop_reason == stop_reason


def test_completion_with_malformed_tool_arguments_is_bad_response() -> None:
    completion = _completion({"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{oops"}}]})
    with pytest.raises(ProviderError) as info:
        anthropic_response_from_chat(completion)
    assert info.value.kind is Kind.BAD_RESPONSE
