"""OpenAIProvider and OpenAICompatibleProvider on httpx.MockTransport: wire body, headers, parsing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from switchyard.api.chat import ChatRequest
from switchyard.errors import Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.http import build_client
from switchyard.providers.openai import OpenAIProvider
from switchyard.providers.openai_compatible import OpenAICompatibleProvider

KEY = "sk-test-0123456789abcdefSECRET"

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
    },
    "system_fingerprint": "fp_1",
    "service_tier": "default",
}


class Upstream:
    """A MockTransport handler that records requests and answers with a fixed body."""

    def __init__(self, status: int = 200, body: Any = COMPLETION) -> None:
        self.status = status
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def sent(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


def _target(**kw: Any) -> Target:
    values: dict[str, Any] = {
        "provider": "openai",
        "deployment_id": "openai/gpt-4o-mini",
        "upstream_model": "gpt-4o-mini",
        "base_url": None,
        "api_key": KEY,
        "timeout_s": 7.5,
        "connect_timeout_s": 2.0,
    }
    values.update(kw)
    return Target(**values)


def _request(**kw: Any) -> ChatRequest:
    body: dict[str, Any] = {"model": "public-name", "messages": [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return ChatRequest.model_validate(body)


async def _chat(
    provider_cls: type[OpenAIProvider],
    upstream: Upstream,
    request: ChatRequest,
    target: Target,
    base: str = "https://api.openai.com/v1",
) -> Any:
    async with build_client(transport=httpx.MockTransport(upstream)) as client:
        return await provider_cls(client, base).chat(request, target)


async def test_posts_the_request_to_chat_completions_with_bearer_key() -> None:
    upstream = Upstream()
    request = _request(temperature=0.3, seed=4, metadata={"trace": "t1"}, cache={"ttl": 60}, foo="bar")
    await _chat(OpenAIProvider, upstream, request, _target(headers={"OpenAI-Organization": "org-1"}))
    sent = upstream.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["openai-organization"] == "org-1"
    assert sent.headers["content-type"] == "application/json"
    assert upstream.sent == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "seed": 4,
        "metadata": {"trace": "t1"},
        "foo": "bar",
    }


async def test_timeout_comes_from_the_target() -> None:
    upstream = Upstream()
    await _chat(OpenAIProvider, upstream, _request(), _target(timeout_s=7.5, connect_timeout_s=2.0))
    timeout = upstream.requests[0].extensions["timeout"]
    assert timeout["read"] == 7.5
    assert timeout["connect"] == 2.0


async def test_target_base_url_wins_and_trailing_slash_is_ignored() -> None:
    upstream = Upstream()
    await _chat(OpenAIProvider, upstream, _request(), _target(base_url="https://eu.example.test/v1/"))
    assert str(upstream.requests[0].url) == "https://eu.example.test/v1/chat/completions"


async def test_buffered_call_never_asks_for_a_stream() -> None:
    upstream = Upstream()
    request = _request(stream=True, stream_options={"include_usage": True})
    await _chat(OpenAIProvider, upstream, request, _target())
    assert "stream" not in upstream.sent
    assert "stream_options" not in upstream.sent


async def test_parses_the_completion() -> None:
    completion = await _chat(OpenAIProvider, Upstream(), _request(), _target())
    assert completion.id == "chatcmpl-abc"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.choices[0].message.content == "Hello!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 3)
    assert completion.usage.cached_tokens == 8
    assert completion.model_extra == {"service_tier": "default"}


async def test_tool_call_answer_is_parsed() -> None:
    body = json.loads(json.dumps(COMPLETION))
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    completion = await _chat(OpenAIProvider, Upstream(body=body), _request(), _target())
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.arguments == '{"a":1}'


async def test_error_answer_is_classified() -> None:
    upstream = Upstream(status=429, body={"error": {"code": "insufficient_quota", "message": "quota"}})
    with pytest.raises(ProviderError) as info:
        await _chat(OpenAIProvider, upstream, _request(), _target())
    assert info.value.kind is Kind.QUOTA_EXCEEDED


async def test_non_completion_body_is_bad_response_without_echoing_it() -> None:
    upstream = Upstream(body={"object": "list", "data": [f"leak {KEY}"]})
    with pytest.raises(ProviderError) as info:
        await _chat(OpenAIProvider, upstream, _request(), _target())
    assert info.value.kind is Kind.BAD_RESPONSE
    assert "leak" not in str(info.value)
    assert KEY not in repr(info.value)


def test_target_repr_hides_the_key() -> None:
    assert KEY not in repr(_target(headers={"x-extra": KEY}))


# --- OpenAI-compatible -----------------------------------------------------------------------------


async def test_compatible_uses_its_base_url_and_drops_openai_only_fields() -> None:
    upstream = Upstream()
    request = _request(
        metadata={"mock_fault": "x"}, store=True, stream_options={"include_usage": True}, top_p=0.5
    )
    await _chat(OpenAICompatibleProvider, upstream, request, _target(), base="https://api.groq.com/openai/v1")
    assert str(upstream.requests[0].url) == "https://api.groq.com/openai/v1/chat/completions"
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert upstream.sent == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "top_p": 0.5,
    }


async def test_compatible_without_key_sends_no_authorization() -> None:
    upstream = Upstream()
    target = _target(api_key=None, upstream_model="llama3.2")
    await _chat(OpenAICompatibleProvider, upstream, _request(), target, base="http://127.0.0.1:11434/v1")
    assert "authorization" not in upstream.requests[0].headers
    assert upstream.sent["model"] == "llama3.2"


async def test_compatible_extra_headers_are_sent() -> None:
    upstream = Upstream()
    target = _target(api_key=None, headers={"api-key": "azure-key"})
    await _chat(OpenAICompatibleProvider, upstream, _request(), target, base="https://x.example.test/v1")
    assert upstream.requests[0].headers["api-key"] == "azure-key"


async def test_openai_keeps_metadata_and_store() -> None:
    upstream = Upstream()
    await _chat(OpenAIProvider, upstream, _request(metadata={"a": "b"}, store=True), _target())
    assert upstream.sent["metadata"] == {"a": "b"}
    assert upstream.sent["store"] is True


MODERATION = {
    "id": "modr-1",
    "model": "omni-moderation-latest",
    "results": [
        {
            "flagged": True,
            "categories": {"violence": True, "hate": False},
            "category_scores": {"violence": 0.9},
        },
        {"flagged": False, "categories": {"violence": False}, "category_scores": {"violence": 0.01}},
    ],
}


async def test_moderate_posts_the_inputs_to_moderations_and_reads_one_result_each() -> None:
    upstream = Upstream(body=MODERATION)
    async with build_client(transport=httpx.MockTransport(upstream)) as client:
        results = await OpenAIProvider(client).moderate(["bad", "fine"], _target(upstream_model="omni"))
    sent = upstream.requests[0]
    assert str(sent.url) == "https://api.openai.com/v1/moderations"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert upstream.sent == {"model": "omni", "input": ["bad", "fine"]}
    assert [r.flagged_categories() for r in results] == [["violence"], []]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, {"results": []}, Kind.BAD_RESPONSE),
        (200, {"results": [MODERATION["results"][0]]}, Kind.BAD_RESPONSE),  # one result for two inputs
        (503, {"error": {"message": "down"}}, Kind.OVERLOADED),
    ],
)
async def test_a_moderation_that_is_not_an_answer_is_a_provider_error(
    status: int, body: Any, kind: Kind
) -> None:
    async with build_client(transport=httpx.MockTransport(Upstream(status, body))) as client:
        with pytest.raises(ProviderError) as failed:
            await OpenAIProvider(client).moderate(["a", "b"], _target())
    assert failed.value.kind is kind
