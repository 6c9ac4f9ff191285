"""OpenAI Chat Completions ↔ Bedrock Converse (bedrock_wire), and Bedrock's failures in the error
taxonomy (bedrock_errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchyard.api.chat import ChatRequest
from switchyard.errors import Action, InvalidRequestError, Kind
from switchyard.providers.bedrock_errors import classify_bedrock, classify_exception
from switchyard.providers.bedrock_wire import from_converse_response, openai_usage, to_converse_request

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def converse(**fields: Any) -> dict[str, Any]:
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "Hi"}], **fields}
    )
    return to_converse_request(request)


def test_system_and_developer_messages_become_system_blocks_and_turns_alternate() -> None:
    body = converse(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use French."},
            {"role": "user", "content": "One."},
            {"role": "user", "content": [{"type": "text", "text": "Two."}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "Trois."},
        ]
    )
    assert body["system"] == [{"text": "Be brief."}, {"text": "Use French."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "One."}, {"text": "Two."}]},
        {"role": "assistant", "content": [{"text": "Trois."}]},
    ]
    assert "inferenceConfig" not in body and "toolConfig" not in body


def test_cache_control_becomes_a_cache_point_after_its_block() -> None:
    part = {"type": "text", "text": "Long context.", "cache_control": {"type": "ephemeral"}}
    body = converse(messages=[{"role": "user", "content": [part, {"type": "text", "text": "Question?"}]}])
    assert body["messages"][0]["content"] == [
        {"text": "Long context."},
        {"cachePoint": {"type": "default"}},
        {"text": "Question?"},
    ]


def test_max_completion_tokens_wins_and_a_single_stop_string_is_a_list() -> None:
    body = converse(max_tokens=10, max_completion_tokens=20, stop="END", temperature=0.3)
    assert body["inferenceConfig"] == {"maxTokens": 20, "temperature": 0.3, "stopSequences": ["END"]}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "lookup"}}, {"tool": {"name": "lookup"}}),
        (None, None),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    body = converse(tools=[TOOL], tool_choice=choice)
    assert body["toolConfig"]["tools"] == [
        {"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}
    ]
    assert body["toolConfig"].get("toolChoice") == expected


def test_tool_choice_none_leaves_the_tools_out_unless_the_history_uses_them() -> None:
    assert "toolConfig" not in converse(tools=[TOOL], tool_choice="none")
    history = [
        {"role": "user", "content": "Look it up."},
        {"role": "assistant", "tool_calls": [{"id": "t1", "function": {"name": "lookup", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "t1", "content": ""},
    ]
    body = converse(messages=history, tools=[TOOL], tool_choice="none")
    assert "toolChoice" not in body["toolConfig"]  # the blocks need a toolConfig; Converse has no "none"
    assert body["messages"][1]["content"] == [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {}}}]
    assert body["messages"][2]["content"] == [{"toolResult": {"toolUseId": "t1", "content": [{"json": {}}]}}]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            },
            "messages[0].content",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}],
                    }
                ]
            },
            "messages[0].content",
        ),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}],
                    }
                ]
            },
            "messages[0].content",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1]"}}],
                    }
                ]
            },
            "messages[0].tool_calls",
        ),
        ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ],
)
def test_what_converse_cannot_express_is_refused(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        converse(**fields)
    assert refused.value.param == param


def test_an_answer_with_text_tool_use_and_reasoning_is_translated() -> None:
    data = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Hmm."}}},
                    {"text": "Let me "},
                    {"text": "check."},
                    {"toolUse": {"toolUseId": "tu_1", "name": "lookup", "input": {"q": "x"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12},
    }
    completion = from_converse_response(data, "amazon.nova-lite-v1:0", "req-1")
    assert completion.id == "chatcmpl-req-1" and completion.model == "amazon.nova-lite-v1:0"
    message = completion.choices[0].message
    assert message.content == "Let me check."
    assert message.tool_calls is not None and json.loads(message.tool_calls[0].function.arguments) == {
        "q": "x"
    }
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.total_tokens == 12


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(reason: str, finish: str) -> None:
    data = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": reason}
    assert from_converse_response(data, "m", None).choices[0].finish_reason == finish


def test_usage_adds_cache_reads_and_writes_to_the_prompt() -> None:
    usage = openai_usage(
        {"inputTokens": 10, "outputTokens": 3, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 50}
    )
    assert usage is not None
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_creation_input_tokens) == (160, 100, 50)
    assert openai_usage(None) is None


@pytest.mark.parametrize(
    ("status", "error_type", "message", "kind"),
    [
        (429, "ThrottlingException", "Too many requests", Kind.RATE_LIMITED),
        (400, "ServiceQuotaExceededException", "Quota exceeded", Kind.QUOTA_EXCEEDED),
        (429, "ModelNotReadyException", "Model is not ready", Kind.OVERLOADED),
        (503, "ServiceUnavailableException", "Unavailable", Kind.OVERLOADED),
        (500, "InternalServerException", "Oops", Kind.SERVER_ERROR),
        (424, "ModelErrorException", "The model failed", Kind.SERVER_ERROR),
        (408, "ModelTimeoutException", "Timed out", Kind.TIMEOUT),
        (400, "ValidationException", "Input is too long for requested model.", Kind.CONTEXT_LENGTH),
        (
            400,
            "ValidationException",
            "prompt is too long: 210000 tokens > 200000 maximum",
            Kind.CONTEXT_LENGTH,
        ),
        (
            400,
            "ValidationException",
            "input length and `max_tokens` exceed context limit",
            Kind.CONTEXT_LENGTH,
        ),
        (400, "ValidationException", "Malformed input request", Kind.INVALID_REQUEST),
        (403, "AccessDeniedException", "You don't have access to the model", Kind.AUTH),
        (403, "UnrecognizedClientException", "The security token included is invalid", Kind.AUTH),
        (404, "ResourceNotFoundException", "Model not found", Kind.MODEL_NOT_FOUND),  # fails over
    ],
)
def test_bedrock_errors_are_classified_by_their_exception_name(
    status: int, error_type: str, message: str, kind: Kind
) -> None:
    headers = {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    error = classify_bedrock(status, json.dumps({"message": message}).encode(), headers)
    assert error.kind is kind
    assert error.upstream_status == status  # Bedrock's own status, whatever row it maps to


def test_the_exception_name_may_come_in_the_body_and_the_message_capitalized() -> None:
    body = json.dumps({"__type": "com.amazon.bedrock#ThrottlingException", "Message": "Slow down"}).encode()
    assert classify_bedrock(400, body, {}).kind is Kind.RATE_LIMITED
    assert classify_bedrock(502, b"<html>bad gateway</html>", {}).kind is Kind.SERVER_ERROR


def test_stream_exceptions_are_classified_like_statuses() -> None:
    assert classify_exception("throttlingException", b'{"message": "x"}').policy.action is Action.RETRY_AFTER
    assert classify_exception("modelStreamErrorException", b'{"message": "x"}').kind is Kind.SERVER_ERROR
    assert (
        classify_exception("validationException", b'{"message": "Input is too long"}').kind
        is Kind.CONTEXT_LENGTH
    )
    assert classify_exception("somethingNew", b"").kind is Kind.SERVER_ERROR
