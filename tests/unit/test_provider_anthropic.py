"""AnthropicProvider on httpx.MockTransport: URL, headers, body, response, Anthropic error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from switchyard.api.chat import ChatRequest
from switchyard.errors import InvalidRequestError, Kind, ProviderError
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target
from switchyard.providers.http import build_client

KEY = "sk-ant-api03-SECRETSECRET0123456789"

MESSAGE: dict[str, Any] = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "Bonjour"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1000,
        "service_tier": "standard",
    },
}


class Upstream:
    def __init__(self, status: int = 200, body: Any = MESSAGE, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.body, bytes):
            return httpx.Response(self.status, content=self.body, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def _target(**kw: Any) -> Target:
    values: dict[str, Any] = {
        "provider": "anthropic",
        "deployment_id": "anthropic/claude-haiku-4-5",
        "upstream_model": "claude-haiku-4-5",
        "base_url": None,
        "api_key": KEY,
        "timeout_s": 30,
    }
    values.update(kw)
    return Target(**values)


REQUEST = ChatRequest.model_validate(
    {
        "model": "public",
        "messages": [{"role": "system", "content": "French only."}, {"role": "user", "content": "Hello"}],
        "max_completion_tokens": 64,
    }
)


async def _chat(
    upstream: Callable[[httpx.Request], httpx.Response],
    request: ChatRequest = REQUEST,
    target: Target | None = None,
    **kw: Any,
) -> Any:
    async with build_client(transport=httpx.MockTransport(upstream)) as client:
        return await AnthropicProvider(client, **kw).chat(request, target or _target())


async def test_posts_messages_with_anthropic_headers() -> None:
    upstream = Upstream()
    await _chat(upstream, target=_target(headers={"anthropic-beta": "prompt-caching-2024-07-31"}))
    sent = upstream.requests[0]
    assert str(sent.url) == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert "authorization" not in sent.headers
    assert json.loads(sent.content) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "system": "French only.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }


@pytest.mark.parametrize(
    ("target_base", "default", "url"),
    [
        (None, "https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("http://127.0.0.1:9/", "https://api.anthropic.com", "http://127.0.0.1:9/v1/messages"),
        (None, "https://proxy.example.test/anthropic/v1", "https://proxy.example.test/anthropic/v1/messages"),
    ],
)
async def test_url(target_base: str | None, default: str, url: str) -> None:
    upstream = Upstream()
    await _chat(upstream, target=_target(base_url=target_base), default_base_url=default)
    assert str(upstream.requests[0].url) == url


async def test_answer_is_translated() -> None:
    completion = await _chat(Upstream())
    assert completion.id == "msg_01XYZ"
    assert completion.model == "claude-haiku-4-5-20251001"
    assert completion.choices[0].message.content == "Bonjour"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 1020
    assert completion.usage.cached_tokens == 1000
    assert completion.usage.total_tokens == 1024


def _anthropic_error(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (529, _anthropic_error("overloaded_error", "Overloaded"), None, Kind.OVERLOADED, None),
        (
            429,
            _anthropic_error("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
            {"retry-after": "12"},
            Kind.RATE_LIMITED,
            12.0,
        ),
        (
            400,
            _anthropic_error("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
            None,
            Kind.CONTEXT_LENGTH,
            None,
        ),
        (
            400,
            _anthropic_error("invalid_request_error", "Your credit balance is too low to access the API."),
            None,
            Kind.QUOTA_EXCEEDED,
            None,
        ),
        (
            400,
            _anthropic_error("invalid_request_error", "messages: roles must alternate"),
            None,
            Kind.INVALID_REQUEST,
            None,
        ),
        (401, _anthropic_error("authentication_error", "invalid x-api-key"), None, Kind.AUTH, None),
        (403, _anthropic_error("permission_error", "no access"), None, Kind.AUTH, None),
        (
            413,
            _anthropic_error("request_too_large", "Request exceeds the maximum size"),
            None,
            Kind.CONTEXT_LENGTH,
            None,
        ),
        (500, _anthropic_error("api_error", "Internal server error"), None, Kind.SERVER_ERROR, None),
    ],
)
async def test_anthropic_errors_are_classified(
    status: int, body: dict[str, Any], headers: dict[str, str] | None, kind: Kind, retry_after: float | None
) -> None:
    with pytest.raises(ProviderError) as info:
        await _chat(Upstream(status, body, headers))
    assert info.value.kind is kind
    assert info.value.retry_after == retry_after
    assert info.value.upstream_status == status
    assert KEY not in repr(info.value) and "anthropic.com" not in str(info.value)


async def test_context_length_message_names_the_limit() -> None:
    body = _anthropic_error("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")
    with pytest.raises(ProviderError) as info:
        await _chat(Upstream(400, body))
    assert "210000 tokens > 200000 maximum" in info.value.message


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"type": "message", "content": "nope"}'])
async def test_malformed_answer_is_bad_response(body: bytes) -> None:
    with pytest.raises(ProviderError) as info:
        await _chat(Upstream(200, body))
    assert info.value.kind is Kind.BAD_RESPONSE
    assert "oops" not in str(info.value)


async def test_connect_error_never_names_the_url_or_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"cannot reach {request.url} ({request.headers['x-api-key']})", request=request
        )

    with pytest.raises(ProviderError) as info:
        await _chat(refuse)
    assert info.value.kind is Kind.TIMEOUT
    for text in (str(info.value), repr(info.value)):
        assert KEY not in text and "api.anthropic.com" not in text


async def test_what_anthropic_cannot_do_fails_before_any_call() -> None:
    upstream = Upstream()
    request = REQUEST.model_copy(update={"n": 3})
    with pytest.raises(InvalidRequestError):
        await _chat(upstream, request)
    assert upstream.requests == []
