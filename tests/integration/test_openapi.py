"""``/openapi.json`` and ``/docs``: a valid OpenAPI document whose every ``$ref`` resolves, with
security schemes, request bodies and the statuses the routes really answer; Swagger UI and ReDoc
served with their assets from the gateway itself (no CDN)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from gateway_checks import dep
from openapi_spec_validator import validate

from conftest import GatewayFactory
from fakes import FakeUpstream
from switchyard.http.openapi import assets_dir

BODY_ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/jobs"),
    ("POST", "/admin/keys"),
    ("PATCH", "/admin/keys/{key_id}"),
    ("POST", "/admin/keys/{key_id}/rotate"),
    ("PUT", "/admin/tenants/{tenant}"),
    ("PATCH", "/admin/tenants/{tenant}"),
    ("PUT", "/admin/personas/{tenant}/{name}"),
]


async def _document(fake: FakeUpstream, gateway: GatewayFactory) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    config = fake.routing_config(providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up")]}})
    client = await gateway(config)
    response = await client.get("/openapi.json", headers={"Authorization": ""})  # public
    assert response.status_code == 200
    return client, response.json()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


async def test_the_document_is_valid_and_every_ref_resolves(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    _, doc = await _document(fake_upstream, gateway)
    validate(doc)  # raises OpenAPIValidationError
    refs = set(_refs(doc))
    assert "#/components/schemas/ChatRequest" in refs and "#/components/schemas/Message" in refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert isinstance(_resolve(doc, ref), dict), ref


async def test_security_bodies_statuses_and_summaries(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    _, doc = await _document(fake_upstream, gateway)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "x-api-key")
    operations = [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 25
    for method, path, op in operations:
        assert op.get("summary") and op.get("description"), (method, path)
        assert "422" not in op["responses"], (method, path)
        if path.startswith("/health"):
            assert "security" not in op
        else:
            assert op["security"] == [{"bearer": []}, {"apiKey": []}], (method, path)
            assert "401" in op["responses"]
    by_route = {(m, p): op for m, p, op in operations}
    for route in BODY_ROUTES:
        body = by_route[route]["requestBody"]["content"]["application/json"]["schema"]
        assert body, route
        assert {"400", "415"} <= set(by_route[route]["responses"]), route
    chat = by_route[("POST", "/v1/chat/completions")]
    assert chat["requestBody"]["content"]["application/json"]["example"]["model"] == "mock-1"
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    messages_error = by_route[("POST", "/v1/messages")]["responses"]["400"]["content"]["application/json"]
    assert messages_error["schema"]["$ref"].endswith("/AnthropicErrorBody")


async def test_the_listed_statuses_are_the_ones_answered(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    """Each body route, sent a non-object body, a non-JSON type and no key: the status it gets is
    in its responses."""
    client, doc = await _document(fake_upstream, gateway)
    for method, template in BODY_ROUTES:
        path = template.replace("{key_id}", "k_000000000000000000000000").replace("{tenant}", "acme")
        path = path.replace("{name}", "support")
        listed = set(doc["paths"][template][method.lower()]["responses"])
        sent = [
            await client.request(method, path, content=b"[]", headers={"content-type": "application/json"}),
            await client.request(method, path, content=b"{}", headers={"content-type": "text/plain"}),
            await client.request(method, path, json={}, headers={"Authorization": ""}),
        ]
        for response in sent:
            assert str(response.status_code) in listed, (method, path, response.status_code, listed)


async def test_swagger_ui_and_redoc_are_served_without_a_cdn(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client, _ = await _document(fake_upstream, gateway)
    for page in ("/docs", "/redoc"):
        html = (await client.get(page, headers={"Authorization": ""})).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html)
        found = [u for pair in urls for u in pair if u]
        assert found, page
        assert all(u.startswith("/") for u in found), (page, found)  # this gateway, not a CDN
        for url in found:
            if url.startswith("/docs/static/"):
                asset = await client.get(url, headers={"Authorization": ""})
                assert asset.status_code == 200 and len(asset.content) > 1000, url
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        assert (assets_dir() / name).is_file(), name  # fastapi-offline still ships them here
