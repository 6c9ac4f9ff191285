"""Requests and assertions shared by the gateway integration tests (ASGI app + fake upstream)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from fakes import FAKE_KEY, MASTER_KEY, FakeUpstream

MESSAGES = [{"role": "user", "content": "Say hello."}]
SUCCESS_HEADERS = (
    "x-switchyard-provider",
    "x-switchyard-model",
    "x-switchyard-deployment",
    "x-switchyard-attempts",
    "x-switchyard-cache",
    "x-switchyard-cost-usd",
)
# What a response must never reveal.
_TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', '.py", line ')


def dep(provider: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "model": model, **extra}


def two_deployments(fake: FakeUpstream, **kwargs: Any) -> dict[str, Any]:
    """Model ``m``: deployment ``a/up-a`` first, ``b/up-b`` second, both on the fake."""
    return fake.routing_config(
        providers={"a": "openai", "b": "openai_compatible"},
        models={"m": {"deployments": [dep("a", "up-a"), dep("b", "up-b")]}},
        **kwargs,
    )


async def ask(client: httpx.AsyncClient, model: str = "m", **fields: Any) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, **fields}
    return await client.post("/v1/chat/completions", json=body)


def assert_no_leak(response: httpx.Response, fake: FakeUpstream) -> None:
    """Neither the body nor any header names the upstream URL or key, the master key, or a traceback."""
    texts = [response.text, *(f"{k}: {v}" for k, v in response.headers.items())]
    secrets = (f"127.0.0.1:{fake.port}", fake.origin, FAKE_KEY, MASTER_KEY)
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"response reveals {secret!r}: {text[:500]}"
        for marker in _TRACEBACK_MARKERS:
            assert marker not in text, f"response carries a traceback: {text[:500]}"


def assert_served(
    response: httpx.Response, fake: FakeUpstream, *, provider: str, model: str, attempts: int
) -> dict[str, Any]:
    """A successful answer from ``provider``'s ``model`` after ``attempts`` upstream calls."""
    assert response.status_code == 200, response.text
    for name in SUCCESS_HEADERS:
        assert name in response.headers, f"missing {name}"
    assert response.headers["x-request-id"]
    assert response.headers["x-switchyard-provider"] == provider
    assert response.headers["x-switchyard-model"] == model
    assert response.headers["x-switchyard-deployment"] == f"{provider}/{model}"
    assert response.headers["x-switchyard-attempts"] == str(attempts)
    assert response.headers["x-switchyard-cache"] in ("hit", "miss", "skip")
    assert Decimal(response.headers["x-switchyard-cost-usd"]) >= 0
    assert_no_leak(response, fake)
    body: dict[str, Any] = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    return body


def assert_openai_error(
    response: httpx.Response,
    fake: FakeUpstream,
    status: int,
    *,
    code: str | None = None,
    error_type: str | None = None,
) -> dict[str, Any]:
    """An error in the OpenAI shape ``{"error": {"message", "type", "code", "param"}}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id"), "every response carries x-request-id"
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "code", "param"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    if code is not None:
        assert error["code"] == code, error
    if error_type is not None:
        assert error["type"] == error_type, error
    assert_no_leak(response, fake)
    return error


def retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after")
    assert value is not None, f"{response.status_code} without Retry-After"
    seconds = float(value)
    assert seconds > 0
    return seconds
