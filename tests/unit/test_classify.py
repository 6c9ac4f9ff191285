"""Every row of the provider error table, end to end through an adapter on httpx.MockTransport."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from switchyard.api.chat import ChatRequest
from switchyard.errors import PROVIDER_KINDS, Kind, ProviderError
from switchyard.providers.base import Target
from switchyard.providers.classify import classify_status, parse_retry_after, scrub
from switchyard.providers.http import build_client
from switchyard.providers.openai import OpenAIProvider

KEY = "sk-proj-Zq8SECRETkeyValue0123456789abcdef"
BASE = "https://upstream.internal.example.com/v1"
TARGET = Target(
    provider="openai",
    deployment_id="openai/gpt-4o-mini",
    upstream_model="gpt-4o-mini",
    base_url=BASE,
    api_key=KEY,
    timeout_s=5,
)
REQUEST = ChatRequest.model_validate(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
)


def _err(code: str | None, message: str, type_: str = "invalid_request_error") -> bytes:
    # Real upstream bodies often echo the key and endpoint: every row does, to prove they are dropped.
    full = f"{message} (key {KEY} at {BASE}/chat/completions)"
    return json.dumps({"error": {"message": full, "type": type_, "code": code}}).encode()


Handler = Callable[[httpx.Request], httpx.Response]


async def _call(handler: Handler) -> ProviderError:
    async with build_client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderError) as info:
            await OpenAIProvider(client).chat(REQUEST, TARGET)
    return info.value


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, content=body, headers=headers)


def _raise(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"failed talking to {request.url} with {KEY}", request=request)

    return handler


def _assert_no_secret(exc: ProviderError) -> None:
    for text in (str(exc), repr(exc), exc.message, *map(str, exc.args)):
        assert KEY not in text
        assert "Zq8SECRET" not in text
        assert "upstream.internal" not in text
        assert BASE not in text


HTTP_ROWS = [
    # (id, status, body, headers, kind, retry_after)
    (
        "429-seconds",
        429,
        _err("rate_limit_exceeded", "slow down"),
        {"retry-after": "7"},
        Kind.RATE_LIMITED,
        7.0,
    ),
    ("429-ms", 429, _err(None, "slow down"), {"retry-after-ms": "1500"}, Kind.RATE_LIMITED, 1.5),
    ("429-none", 429, b"", {}, Kind.RATE_LIMITED, None),
    (
        "insufficient-quota",
        429,
        _err("insufficient_quota", "You exceeded your current quota"),
        {},
        Kind.QUOTA_EXCEEDED,
        None,
    ),
    ("402", 402, _err(None, "payment required"), {}, Kind.QUOTA_EXCEEDED, None),
    ("credit-400", 400, _err(None, "Your credit balance is too low"), {}, Kind.QUOTA_EXCEEDED, None),
    ("529", 529, _err(None, "Overloaded", "overloaded_error"), {}, Kind.OVERLOADED, None),
    ("503", 503, b"<html>Service Unavailable</html>", {"retry-after": "3"}, Kind.OVERLOADED, 3.0),
    ("500", 500, _err(None, "boom", "server_error"), {}, Kind.SERVER_ERROR, None),
    ("502", 502, b"Bad Gateway", {}, Kind.SERVER_ERROR, None),
    ("504", 504, b"", {}, Kind.SERVER_ERROR, None),
    ("599", 599, b"", {}, Kind.SERVER_ERROR, None),
    ("401", 401, _err("invalid_api_key", "Incorrect API key provided"), {}, Kind.AUTH, None),
    ("403", 403, _err(None, "forbidden"), {}, Kind.AUTH, None),
    (
        "context-400",
        400,
        _err("context_length_exceeded", "This model's maximum context length is 128000"),
        {},
        Kind.CONTEXT_LENGTH,
        None,
    ),
    ("413", 413, b"Request Entity Too Large", {}, Kind.CONTEXT_LENGTH, None),
    (
        "content-filter",
        400,
        _err("content_filter", "The response was filtered"),
        {},
        Kind.CONTENT_FILTER,
        None,
    ),
    (
        "content-policy",
        400,
        _err("content_policy_violation", "Your request was rejected"),
        {},
        Kind.CONTENT_FILTER,
        None,
    ),
    (
        "other-400",
        400,
        _err("invalid_value", "Invalid value for 'temperature'"),
        {},
        Kind.INVALID_REQUEST,
        None,
    ),
    ("404-model", 404, _err("model_not_found", "The model does not exist"), {}, Kind.MODEL_NOT_FOUND, None),
    (
        "404-anthropic-model",
        404,
        json.dumps({"type": "error", "error": {"type": "not_found_error", "message": "model: x"}}).encode(),
        {},
        Kind.MODEL_NOT_FOUND,
        None,
    ),
    (
        "404-gemini-model",
        404,
        json.dumps(
            [{"error": {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}}]
        ).encode(),
        {},
        Kind.MODEL_NOT_FOUND,
        None,
    ),
    (
        "404-ollama-model",
        404,
        b'{"error":"model \\"x\\" not found, try pulling it first"}',
        {},
        Kind.MODEL_NOT_FOUND,
        None,
    ),
    ("400-model-code", 400, _err("model_not_found", "No such model"), {}, Kind.MODEL_NOT_FOUND, None),
    # A 404 that names no model is a wrong path (the base URL), not a missing model.
    ("404-route", 404, b'{"error": {"message": "Unknown path"}}', {}, Kind.INVALID_REQUEST, None),
    ("404-html", 404, b"<html><body>Not Found</body></html>", {}, Kind.INVALID_REQUEST, None),
    ("400-overloaded", 400, _err(None, "Model is overloaded", "overloaded"), {}, Kind.OVERLOADED, None),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [r[1:] for r in HTTP_ROWS],
    ids=[r[0] for r in HTTP_ROWS],
)
async def test_http_status_rows(
    status: int, body: bytes, headers: dict[str, str], kind: Kind, retry_after: float | None
) -> None:
    exc = await _call(_answer(status, body, headers))
    assert exc.kind is kind
    assert exc.upstream_status == status
    assert exc.retry_after == retry_after
    assert exc.kind in PROVIDER_KINDS
    _assert_no_secret(exc)


async def test_retry_after_http_date_is_honoured() -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    exc = await _call(_answer(429, b"", {"Retry-After": when}))
    assert exc.kind is Kind.RATE_LIMITED
    assert exc.retry_after is not None
    assert 28 <= exc.retry_after <= 30


@pytest.mark.parametrize(
    ("exc_type", "kind"),
    [
        (httpx.ConnectError, Kind.TIMEOUT),
        (httpx.ConnectTimeout, Kind.TIMEOUT),
        (httpx.ReadTimeout, Kind.TIMEOUT),
        (httpx.RemoteProtocolError, Kind.BAD_RESPONSE),
        (httpx.ReadError, Kind.BAD_RESPONSE),
    ],
)
async def test_transport_failures(exc_type: type[httpx.TransportError], kind: Kind) -> None:
    exc = await _call(_raise(exc_type))
    assert exc.kind is kind
    assert exc.upstream_status is None
    assert isinstance(exc.__cause__, exc_type)
    _assert_no_secret(exc)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'{"error": {"message": "oops"}}', b'{"id": "x", "choices": "nope"}', b"[]"],
    ids=["malformed", "empty", "error-body", "wrong-shape", "array"],
)
async def test_malformed_2xx_is_bad_response(body: bytes) -> None:
    exc = await _call(_answer(200, body))
    assert exc.kind is Kind.BAD_RESPONSE
    assert "oops" not in exc.message
    _assert_no_secret(exc)


@pytest.mark.parametrize("kind_body", ["other-400", "context-400", "content-filter"])
async def test_fixable_kinds_carry_the_scrubbed_upstream_message(kind_body: str) -> None:
    row = next(r for r in HTTP_ROWS if r[0] == kind_body)
    exc = await _call(_answer(row[1], row[2]))
    upstream = json.loads(row[2])["error"]["message"].split(" (key")[0]
    assert f"Upstream message: {upstream}" in exc.message
    assert "[url]" in exc.message and "[redacted]" in exc.message
    _assert_no_secret(exc)


@pytest.mark.parametrize("status", [401, 429, 500, 529])
async def test_other_kinds_keep_the_generic_message(status: int) -> None:
    exc = await _call(_answer(status, _err(None, "secret upstream detail")))
    assert "secret upstream detail" not in exc.message
    assert "Upstream message" not in exc.message


def test_detail_from_gemini_list_body_and_anthropic_body() -> None:
    gemini = json.dumps(
        [{"error": {"code": 400, "message": "Invalid JSON payload received.", "status": "X"}}]
    )
    assert classify_status(400, gemini.encode(), {}).message.endswith(
        "Upstream message: Invalid JSON payload received."
    )
    anthropic = (
        b'{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 9 > 8"}}'
    )
    exc = classify_status(400, anthropic, {})
    assert exc.kind is Kind.CONTEXT_LENGTH
    assert exc.message.endswith("prompt is too long: 9 > 8")


def test_detail_is_truncated() -> None:
    exc = classify_status(400, _err(None, "word " * 500), {})
    detail = exc.message.split("Upstream message: ", 1)[1]
    assert len(detail) <= 300
    assert detail.endswith("…")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("see https://api.openai.com/v1/chat/completions?key=abc", "api.openai.com"),
        ("see http://10.0.0.5:11434/api for details", "10.0.0.5"),
        ("host generativelanguage.googleapis.com refused", "googleapis"),
        ("header Authorization: Bearer abc.def-ghi was rejected", "abc.def-ghi"),
        ("Incorrect API key provided: sk-proj-****************************abcd.", "abcd"),
        ("key sk-ant-api03-AAAAbbbbCCCC rejected", "AAAAbbbb"),
        ("key gsk_abcdefghijkl rejected", "abcdefghijkl"),
        ("API key AIzaSyA1234567890abcdefghijkl not valid", "AIzaSyA1234567890"),
        ('{"x-api-key": "hunter2-pass"}', "hunter2"),
        ("x-api-key=hunter2", "hunter2"),
        ("api_key: 'hunter2'", "hunter2"),
        ("opaque token 0123456789abcdef0123456789abcdef01 leaked", "0123456789abcdef0123456789abcdef01"),
    ],
)
def test_scrub_removes_urls_and_credentials(text: str, secret: str) -> None:
    assert secret not in scrub(text)


def test_scrub_keeps_ordinary_text() -> None:
    text = "Invalid value for 'temperature': 3 is greater than the maximum of 2 (model gemini-2.5-flash)."
    assert scrub(text) == text


def test_parse_retry_after_variants() -> None:
    now = 1_000_000.0
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": formatdate(now + 12, usegmt=True)}, now=now) == 12
    assert parse_retry_after({"retry-after": formatdate(now - 12, usegmt=True)}, now=now) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-3"}) == 0
    assert parse_retry_after({}) is None
