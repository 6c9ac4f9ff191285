"""The HTTP surface of the gateway (ASGI app + fake upstream): authentication, validation, body
limits, what is passed upstream, model listing and health, and the headers every answer carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gateway_checks import (
    MESSAGES,
    ask,
    assert_no_leak,
    assert_openai_error,
    assert_served,
    dep,
    two_deployments,
)

from fakes import FAKE_KEY, MASTER_KEY, FakeUpstream

# -- authentication ----------------------------------------------------------------------------


async def test_missing_key_is_401(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), api_key=None)

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 401)
    assert fake_upstream.count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sk-sy-wrong-key-0123"},
        {"Authorization": f"Basic {MASTER_KEY}"},
        {"x-api-key": "sk-sy-wrong-key-0123"},
    ],
    ids=["wrong-bearer", "not-bearer", "wrong-x-api-key"],
)
async def test_wrong_key_is_401_and_not_echoed(fake_upstream: FakeUpstream, gateway, headers: dict) -> None:
    client = await gateway(two_deployments(fake_upstream), api_key=None)

    response = await client.post(
        "/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, headers=headers
    )

    assert_openai_error(response, fake_upstream, 401)
    assert "sk-sy-wrong-key-0123" not in response.text
    assert fake_upstream.count() == 0


async def test_x_api_key_header_is_accepted(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), api_key=None)

    response = await client.post(
        "/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, headers={"x-api-key": MASTER_KEY}
    )

    assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)


async def test_models_route_needs_a_key_too(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), api_key=None)
    assert_openai_error(await client.get("/v1/models"), fake_upstream, 401)


# -- validation and limits ---------------------------------------------------------------------


async def test_body_over_the_limit_is_413_before_parsing(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), max_body_bytes=2048)

    response = await client.post(
        "/v1/chat/completions", content=b"{" + b"x" * 10_000, headers={"content-type": "application/json"}
    )

    assert_openai_error(response, fake_upstream, 413)
    assert fake_upstream.count() == 0


async def test_chunked_body_over_the_limit_is_413(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]}'

    response = await client.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_openai_error(response, fake_upstream, 413)
    assert fake_upstream.count() == 0


async def test_body_under_the_limit_is_served(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), max_body_bytes=2048)
    response = await ask(client, messages=[{"role": "user", "content": "z" * 1500}])
    assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)


@pytest.mark.parametrize(
    "content",
    [b'{"model": "m", "messages": [', b"not json at all", b"", b"\xff\xfe\x00"],
    ids=["truncated", "text", "empty", "binary"],
)
async def test_malformed_json_is_400_in_openai_shape(
    fake_upstream: FakeUpstream, gateway, content: bytes
) -> None:
    client = await gateway(two_deployments(fake_upstream))

    response = await client.post(
        "/v1/chat/completions", content=content, headers={"content-type": "application/json"}
    )

    assert_openai_error(response, fake_upstream, 400, error_type="invalid_request_error")
    assert fake_upstream.count() == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"messages": MESSAGES}, "model"),
        ({"model": "m", "messages": MESSAGES, "temperature": 5}, "temperature"),
        ({"model": "m", "messages": MESSAGES, "n": 0}, "n"),
        ({"model": "m", "messages": []}, "messages"),
    ],
    ids=["no-messages", "no-model", "temperature-5", "n-0", "empty-messages"],
)
async def test_schema_invalid_body_is_400_naming_the_param(
    fake_upstream: FakeUpstream, gateway, body: dict, param: str
) -> None:
    client = await gateway(two_deployments(fake_upstream))

    response = await client.post("/v1/chat/completions", json=body)

    error = assert_openai_error(response, fake_upstream, 400, error_type="invalid_request_error")
    assert error["param"] == param
    assert fake_upstream.count() == 0


async def test_invalid_message_role_is_400_naming_messages(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))

    response = await ask(client, messages=[{"role": "wizard", "content": "hi"}])

    error = assert_openai_error(response, fake_upstream, 400)
    assert error["param"].startswith("messages")


async def test_json_that_is_not_an_object_is_400(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    response = await client.post("/v1/chat/completions", json=[{"model": "m"}])
    assert_openai_error(response, fake_upstream, 400)


async def test_stream_true_is_answered_with_an_event_stream(fake_upstream: FakeUpstream, gateway) -> None:
    # The streaming behaviour itself is covered in test_streaming.py.
    client = await gateway(two_deployments(fake_upstream))

    response = await ask(client, stream=True)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    assert fake_upstream.calls("a")[0].body["stream"] is True


# -- what reaches the upstream -----------------------------------------------------------------

RICH_REQUEST: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "cat"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look something up.",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
                "strict": True,
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "parallel_tool_calls": False,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    },
    "seed": 42,
    "stop": ["\n\n", "END"],
    "n": 2,
    "user": "user-1234",
    "metadata": {"team": "search"},
    "max_completion_tokens": 256,
    "temperature": 0.2,
    "top_p": 0.9,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "reasoning_effort": "low",  # not modelled by the gateway: must pass through all the same
}


async def test_request_fields_pass_through_and_gateway_fields_do_not(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))

    response = await client.post(
        "/v1/chat/completions",
        json={"model": "m", **RICH_REQUEST, "cache": {"ttl": 60, "no-store": True}},
        headers={"x-switchyard-cache-ttl": "60", "x-request-id": "trace-abc-123"},
    )

    assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)
    [call] = fake_upstream.calls("a")
    assert call.body == {"model": "up-a", **RICH_REQUEST}  # everything but `cache`, model rewritten
    assert "cache" not in call.body
    assert call.api_key == FAKE_KEY
    assert MASTER_KEY not in " ".join(call.headers.values())
    assert not [h for h in call.headers if h.startswith("x-switchyard")]


async def test_gateway_does_not_invent_fields(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    await ask(client)
    assert fake_upstream.calls("a")[0].body == {"model": "up-a", "messages": MESSAGES}


async def test_provider_headers_from_the_config_are_sent(fake_upstream: FakeUpstream, gateway) -> None:
    config = fake_upstream.routing_config(
        providers={"a": {"kind": "openai_compatible", "headers": {"x-org": "acme"}}},
        models={"m": {"deployments": [dep("a", "up-a")]}},
    )
    client = await gateway(config)
    await ask(client)
    assert fake_upstream.calls("a")[0].headers["x-org"] == "acme"


# -- models, health, routes ----------------------------------------------------------------------


def _catalogue(fake: FakeUpstream) -> dict[str, Any]:
    return fake.routing_config(
        providers={"a": "openai", "b": "openai", "nokey": {"kind": "openai", "api_key_env": "NOT_SET_KEY"}},
        models={
            "m": {"deployments": [dep("a", "up-a")], "fallbacks": ["n"]},
            "n": {"deployments": [dep("b", "up-b")]},
            "hidden": {"deployments": [dep("nokey", "up-x")]},
        },
        aliases={"fast": "m"},
        wildcards=[{"pattern": "gpt-*", "provider": "a"}],
    )


async def test_models_lists_public_models_and_aliases(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_catalogue(fake_upstream))

    response = await client.get("/v1/models")

    assert response.status_code == 200
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["object"] == "list"
    assert sorted(card["id"] for card in body["data"]) == ["fast", "m", "n"]  # not the keyless one
    assert {card["object"] for card in body["data"]} == {"model"}
    assert {card["id"]: card["owned_by"] for card in body["data"]} == {"fast": "a", "m": "a", "n": "b"}
    assert_no_leak(response, fake_upstream)


async def test_a_restricted_key_lists_and_shows_only_the_models_it_may_use(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(_catalogue(fake_upstream))
    allowed = ["n", "gpt-4.1", "hidden", "no-such-model"]  # hidden: its provider has no key
    made = await client.post("/admin/keys", json={"tenant": "acme", "models": allowed})
    as_key = {"Authorization": f"Bearer {made.json()['key']}"}

    listed = await client.get("/v1/models", headers=as_key)
    shown = await client.get("/v1/models/gpt-4.1", headers=as_key)
    refused = [await client.get(f"/v1/models/{name}", headers=as_key) for name in ("m", "fast", "hidden")]

    assert [card["id"] for card in listed.json()["data"]] == ["gpt-4.1", "n"]  # a wildcard's match too
    assert shown.status_code == 200 and shown.json() == {
        "id": "gpt-4.1",
        "object": "model",
        "created": 0,
        "owned_by": "a",
    }
    for response in refused:  # not the key's, or not routable: the same 404, nothing revealed
        assert_openai_error(response, fake_upstream, 404, code="model_not_found")
    # The master key may use any routable name, "provider/model" ones included.
    assert (await client.get("/v1/models/a/up-anything")).json()["owned_by"] == "a"
    assert (await client.get("/v1/models/fast")).json()["id"] == "fast"
    assert_openai_error(
        await client.get("/v1/models/no-such-model"), fake_upstream, 404, code="model_not_found"
    )
    assert fake_upstream.calls() == []  # listing models does not call providers


async def test_model_of_a_provider_without_key_is_unknown(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_catalogue(fake_upstream))
    assert_openai_error(await ask(client, "hidden"), fake_upstream, 404, code="model_not_found")
    assert fake_upstream.count() == 0


async def test_health_needs_no_key(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream), api_key=None)

    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


async def test_readiness_reports_providers_and_breakers(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_catalogue(fake_upstream), api_key=None)

    response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert set(body["providers"]) == {"a", "b"}
    assert {"open", "half_open"} <= set(body["breakers"])
    assert body["breakers"]["open"] == []
    assert_no_leak(response, fake_upstream)


async def test_unknown_route_is_404_in_openai_shape(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    assert_openai_error(await client.get("/v1/no-such-route"), fake_upstream, 404)


async def test_caller_request_id_is_kept_when_safe(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))

    kept = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"x-request-id": "trace-abc-123"},
    )
    replaced = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"x-request-id": "bad id <x>"},
    )

    assert kept.headers["x-request-id"] == "trace-abc-123"
    assert replaced.headers["x-request-id"] != "bad id <x>"
    assert replaced.headers["x-request-id"]


async def test_an_unexpected_error_is_a_bare_500_without_details(
    fake_upstream: FakeUpstream, gateway
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"bug while calling {request.url} with {request.headers.get('authorization')}")

    client = await gateway(
        two_deployments(fake_upstream), transport=httpx.MockTransport(explode), raise_app_exceptions=False
    )

    response = await ask(client)

    error = assert_openai_error(response, fake_upstream, 500)  # no URL, key or traceback in it
    assert "bug while calling" not in error["message"]
    assert "RuntimeError" not in response.text


async def test_an_invalid_routing_config_fails_the_start_up(fake_upstream: FakeUpstream, gateway) -> None:
    config = fake_upstream.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [dep("nowhere", "up-x")]}}
    )
    with pytest.raises(ValueError, match="nowhere"):
        await gateway(config)
