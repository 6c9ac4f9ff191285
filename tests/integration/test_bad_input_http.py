"""Bad input as callers send it (docs/api.md): a body that is not a JSON object is named as such,
a body that is not JSON by its Content-Type gets 415, and ``max_tokens`` above every deployment's
``max_output_tokens`` is a 400 naming the limit; deployments that cannot take it are skipped. Each
in the route's own error shape, never FastAPI's 422 or a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, assert_no_leak, dep

from conftest import GatewayFactory
from fakes import FakeUpstream

ANTHROPIC_BODY = {"model": "m", "max_tokens": 50, "messages": MESSAGES}
CHAT_BODY = {"model": "m", "messages": MESSAGES}


def limited(fake: FakeUpstream) -> dict[str, Any]:
    """Model ``m``: ``a`` allows 100 output tokens, ``b`` 1000; ``open`` has no limit."""
    return fake.routing_config(
        providers={"a": "openai", "b": "openai_compatible"},
        models={
            "m": {
                "deployments": [
                    dep("a", "up-a", max_output_tokens=100),
                    dep("b", "up-b", max_output_tokens=1000),
                ]
            },
            "open": {"deployments": [dep("a", "up-open")]},
        },
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/messages"),
        ("POST", "/v1/jobs"),
        ("POST", "/admin/keys"),
        ("PATCH", "/admin/keys/k_000000000000000000000000"),
        ("PUT", "/admin/tenants/acme"),
    ],
)
async def test_a_body_that_is_not_an_object_is_named(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, method: str, path: str
) -> None:
    client = await gateway(limited(fake_upstream))
    for raw, kind in (
        (b"[]", "an array"),
        (b'[{"model": "m"}]', "an array"),
        (b'"hi"', "a string"),
        (b"42", "a number"),
        (b"null", "null"),
    ):
        response = await client.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (path, raw, response.text)
        error = response.json()["error"]
        assert error["message"] == f"The request body must be a JSON object, not {kind}."
        assert response.headers["x-request-id"]
        assert_no_leak(response, fake_upstream)
    if path == "/v1/messages":
        assert response.json()["type"] == "error" and error["type"] == "invalid_request_error"
    else:
        assert error["code"] == "invalid_body" and error["param"] is None
    broken = await client.request(
        method, path, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
    assert fake_upstream.count() == 0


async def test_bodies_must_be_json_by_their_content_type(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(limited(fake_upstream))
    raw = httpx.Request("POST", "/", json=CHAT_BODY).content
    for declared in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ):
        refused = await client.post("/v1/chat/completions", content=raw, headers={"content-type": declared})
        assert refused.status_code == 415, declared
        error = refused.json()["error"]
        assert error["code"] == "unsupported_media_type" and error["param"] == "Content-Type"
        assert declared.split(";")[0] in error["message"] and "application/json" in error["message"]
        assert refused.headers["x-request-id"]
    anthropic = await client.post("/v1/messages", data={"model": "m"})  # what curl -d sends
    assert anthropic.status_code == 415 and anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "invalid_request_error"
    admin = await client.post(
        "/admin/keys", content=b'{"tenant": "a"}', headers={"content-type": "text/plain"}
    )
    assert admin.status_code == 415
    assert fake_upstream.count() == 0
    for accepted in ("application/json", "application/json; charset=utf-8", "application/vnd.api+json", None):
        headers = {"content-type": accepted} if accepted else {}
        response = await client.post("/v1/chat/completions", content=raw, headers=headers)
        assert response.status_code == 200, (accepted, response.text)
    # A request without a body is its route's business, whatever it declares.
    made = (await client.post("/admin/keys", json={"tenant": "acme"})).json()
    revoked = await client.post(
        f"/admin/keys/{made['key_id']}/revoke", headers={"content-type": "text/plain"}
    )
    assert revoked.status_code == 204


async def test_max_tokens_skips_deployments_that_cannot_and_400s_when_none_can(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(limited(fake_upstream))
    small = await client.post("/v1/chat/completions", json={**CHAT_BODY, "max_tokens": 100})
    assert (small.status_code, small.headers["x-switchyard-deployment"]) == (200, "a/up-a")
    skipped = await client.post("/v1/chat/completions", json={**CHAT_BODY, "max_tokens": 500})
    assert (skipped.status_code, skipped.headers["x-switchyard-deployment"]) == (200, "b/up-b")
    assert skipped.headers["x-switchyard-attempts"] == "1"
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)
    for field in ("max_tokens", "max_completion_tokens"):
        for stream in (False, True):
            refused = await client.post(
                "/v1/chat/completions", json={**CHAT_BODY, field: 5000, "stream": stream}
            )
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert (error["param"], error["code"]) == (field, "max_tokens_exceeded")
            assert "5000" in error["message"] and "allows 1000 tokens" in error["message"]
    anthropic = await client.post("/v1/messages", json={**ANTHROPIC_BODY, "max_tokens": 5000})
    assert anthropic.status_code == 400 and "allows 1000 tokens" in anthropic.json()["error"]["message"]
    unlimited = await client.post(
        "/v1/chat/completions", json={"model": "open", "messages": MESSAGES, "max_tokens": 10**6}
    )
    assert unlimited.status_code == 200
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (2, 1)  # nothing sent for the 400s
