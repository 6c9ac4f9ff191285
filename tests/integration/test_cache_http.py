"""The response cache for streams, its statistics and its purges, as callers and operators see
them: the ASGI app against the fake upstream, on memory state and on DynamoDB (moto, the
template's tables). A complete deterministic stream is stored once it is over and a hit is
replayed as a stream in the caller's dialect (or answered buffered); a stream that did not
complete is never stored; ``/admin/cache`` counts hits, misses and stores across the aggregates,
and a purge by model, tenant or key makes exactly its entries stale."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import pytest
from gateway_checks import MESSAGES, dep
from streaming_checks import content_of, cost_of, openai_stream, parse_sse

from conftest import GatewayFactory, dynamo_settings
from fakes import DEFAULT_CONTENT, FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.api.chat import ChatRequest
from switchyard.cli import admin_client, main
from switchyard.core import Call, StreamEnd

PRICE = {"input": 1000, "output": 2000}  # USD per 1M tokens: 11 in, 7 out = $0.025


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream) -> dict[str, Any]:
    return fake.routing_config(
        providers={"a": "openai", "c": "anthropic"},
        models={
            "m": {"deployments": [dep("a", "up-a", price=PRICE)]},
            "n": {"deployments": [dep("c", "up-c", price=PRICE)]},  # an Anthropic-dialect upstream
        },
        aliases={"fast": "m"},
    )


def gateway_of(client: httpx.AsyncClient) -> Any:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.app.state.gateway  # type: ignore[attr-defined]


async def chat(
    client: httpx.AsyncClient,
    *,
    stream: bool = False,
    key: str | None = None,
    model: str = "m",
    **fields: Any,
) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, "temperature": 0, "stream": stream, **fields}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.post("/v1/chat/completions", json=body, headers=headers)


async def test_a_complete_stream_is_stored_and_a_hit_is_replayed_as_a_stream(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state, clock=Clock(T0 + 5))

    first = await chat(client, stream=True)
    again = await chat(client, stream=True, stream_options={"include_usage": True})
    buffered = await chat(client)

    assert first.headers["x-switchyard-cache"] == "miss"
    chunks, done, error = openai_stream(first.text)
    assert content_of(chunks) == DEFAULT_CONTENT and done and error is None
    assert again.headers["x-switchyard-cache"] == "hit"
    assert again.headers["content-type"].startswith("text/event-stream")
    replayed, done, error = openai_stream(again.text)
    assert content_of(replayed) == DEFAULT_CONTENT and done and error is None
    assert replayed[-1]["usage"]["completion_tokens"] == 7  # the stored stream's own usage
    assert Decimal(cost_of(again.text)) == 0
    assert buffered.headers["x-switchyard-cache"] == "hit"  # the same entry answers a buffered call
    assert buffered.json()["choices"][0]["message"]["content"] == DEFAULT_CONTENT
    assert Decimal(buffered.headers["x-switchyard-cost-saved-usd"]) == Decimal("0.025")
    assert fake_upstream.count("a") == 1


async def test_an_anthropic_stream_hit_is_replayed_as_anthropic_events(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    body = {"model": "n", "max_tokens": 50, "temperature": 0, "stream": True, "messages": MESSAGES}

    first = await client.post("/v1/messages", json=body)
    again = await client.post("/v1/messages", json=body)
    as_chat = await chat(client, stream=True, model="n", max_tokens=50)

    assert (first.headers["x-switchyard-cache"], again.headers["x-switchyard-cache"]) == ("miss", "hit")
    events, _ = parse_sse(again.text)
    names = [e.event for e in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    text = "".join(e.json()["delta"].get("text", "") for e in events if e.event == "content_block_delta")
    assert text == DEFAULT_CONTENT
    assert as_chat.headers["x-switchyard-cache"] == "hit"  # the same canonical request, OpenAI chunks
    assert content_of(openai_stream(as_chat.text)[0]) == DEFAULT_CONTENT
    assert fake_upstream.count("c") == 1


async def test_a_stream_that_did_not_complete_is_never_stored(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    fake_upstream.script("a", Reply.stream(drop_after=3))  # cut after the first words

    cut = await chat(client, stream=True)
    _, _, error = openai_stream(cut.text)
    assert error is not None
    assert (await chat(client, stream=True)).headers["x-switchyard-cache"] == "miss"

    # A client that leaves mid-stream: the stream is closed early, nothing is stored.
    pipeline = gateway_of(client).pipeline
    request = ChatRequest.model_validate(
        {"model": "m", "messages": MESSAGES, "temperature": 0, "stream": True, "seed": 3}
    )
    streamed = await pipeline.stream(Call(request, "k_left", "req-left"))
    try:
        async for event in streamed:
            assert not isinstance(event, StreamEnd)
            break  # the first chunk, then gone
    finally:
        await streamed.aclose()
    gone_again = await pipeline.stream(Call(request, "k_left", "req-back"))
    await gone_again.aclose()
    assert gone_again.headers["x-switchyard-cache"] == "miss"
    assert fake_upstream.count("a") == 4


async def test_cache_statistics_and_purges_by_model_key_and_tenant(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    clock = Clock(T0 + 5)
    client = await gateway(config(fake_upstream), settings_extra=state, clock=clock)
    keys = {}
    for name, tenant in (("a1", "acme"), ("a2", "acme"), ("o1", "other")):
        made = (await client.post("/admin/keys", json={"tenant": tenant})).json()
        keys[name] = (made["key"], made["key_id"])

    async def ask_all(**fields: Any) -> dict[str, str]:
        return {
            name: (await chat(client, key=key, **fields)).headers["x-switchyard-cache"]
            for name, (key, _) in keys.items()
        }

    assert await ask_all() == dict.fromkeys(keys, "miss")
    assert await ask_all(stream=True) == dict.fromkeys(keys, "hit")
    clock.advance(1)
    purged = await client.post("/admin/cache/purge", json={"key_id": keys["a1"][1]})
    assert purged.json()["scopes"] == [f"key#{keys['a1'][1]}"]
    clock.advance(1)
    assert await ask_all() == {"a1": "miss", "a2": "hit", "o1": "hit"}
    clock.advance(1)
    await client.post("/admin/cache/purge", json={"tenant": "acme"})
    clock.advance(1)
    assert await ask_all(stream=True) == {"a1": "miss", "a2": "miss", "o1": "hit"}
    clock.advance(1)
    by_model = await client.post("/admin/cache/purge", json={"model": "m"})
    assert by_model.json()["scopes"] == ["model#m", "model#fast"]  # its alias too
    clock.advance(1)
    assert await ask_all() == dict.fromkeys(keys, "miss")
    await gateway_of(client).usage.drain()

    report = (await client.get("/admin/cache", params={"group_by": "tenant"})).json()

    rows = {r["group"]: r for r in report["data"]}
    # acme, 2 keys x 5 rounds: both miss, both hit, a1 misses and a2 hits, then both miss twice.
    assert (rows["acme"]["hits"], rows["acme"]["misses"], rows["acme"]["stores"]) == (3, 7, 7)
    assert (rows["other"]["hits"], rows["other"]["misses"]) == (3, 2)
    total = report["total"]
    assert (total["lookups"], total["hits"]) == (15, 6) and total["hit_rate"] == pytest.approx(6 / 15)
    assert Decimal(total["saved_usd"]) == 6 * Decimal("0.025")
    assert {(p["scope"], p["id"]) for p in report["purges"]} == {
        ("model", "m"),
        ("model", "fast"),
        ("tenant", "acme"),
        ("key", keys["a1"][1]),
    }
    assert report["enabled"] is True and report["default_ttl_s"] == 3600
    one_key = (await client.get("/admin/cache", params={"key_id": keys["o1"][1], "group_by": "key"})).json()
    assert [r["group"] for r in one_key["data"]] == [keys["o1"][1]]
    purged_all = await client.post("/admin/cache/purge", json={"all": True})
    assert purged_all.json()["scopes"] == ["all"]
    clock.advance(1)
    assert await ask_all() == dict.fromkeys(keys, "miss")


async def test_purges_are_for_the_admin_and_name_exactly_one_scope(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    key = (await client.post("/admin/keys", json={"tenant": "acme"})).json()["key"]
    for body in ({}, {"tenant": "a", "model": "m"}, {"all": False}, {"everything": True}):
        refused = await client.post("/admin/cache/purge", json=body)
        assert refused.status_code == 400, body
    as_key = {"Authorization": f"Bearer {key}"}
    assert (await client.post("/admin/cache/purge", json={"all": True}, headers=as_key)).status_code == 403
    assert (await client.get("/admin/cache", headers=as_key)).status_code == 403


def test_the_cli_prints_the_statistics_and_purges(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    seen: list[httpx.Request] = []
    row = {"lookups": 4, "hits": 3, "misses": 1, "stores": 1, "hit_rate": 0.75, "saved_usd": "0.075"}
    report = {
        "enabled": True,
        "default_ttl_s": 3600,
        "start": "2027-01-01",
        "end": "2027-01-15",
        "group_by": "model",
        "purges": [{"scope": "model", "id": "m", "purged_at": T0}],
        "data": [{"group": "m", **row}],
        "total": {"group": "total", **row},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"object": "cache.purge", "scopes": ["model#m"], "purged_at": T0})
        return httpx.Response(200, json=report)

    monkeypatch.setattr(
        admin_client.httpx, "Client", partial(httpx.Client, transport=httpx.MockTransport(handler))
    )
    assert main(["cache", "stats", "--model", "m", "--admin-key", "adm"]) == 0
    printed = capsys.readouterr().out
    assert "75.0%" in printed and "0.075 " in printed and "purged: model m" in printed  # every digit
    assert main(["cache", "purge", "--model", "m", "--admin-key", "adm"]) == 0
    assert "model#m" in capsys.readouterr().out
    assert seen[0].url.params["model"] == "m"
    assert json.loads(seen[1].content) == {"model": "m"}
