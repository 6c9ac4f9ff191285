"""Conversation memory as callers see it, on memory state and on DynamoDB (moto): remembered turns
go before the new message, buffered and streamed answers are remembered once complete, tenants
never share a conversation, the token bound drops or summarizes old turns, and a memory that
cannot be read or written costs no answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from gateway_checks import dep

from conftest import GatewayFactory, dynamo_settings
from fakes import FakeUpstream, Reply
from switchyard.metrics import MEMORY_SAVE_FAILED, MEMORY_SUMMARIES, MEMORY_SUMMARY_FAILED, MEMORY_UNAVAILABLE
from switchyard.state.memory_conversations import MemoryConversationStore
from switchyard.state.ports import StateUnavailableError

CONVERSATION = "x-switchyard-conversation"


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return dynamo_settings(request.getfixturevalue("state_tables"))


def config(fake: FakeUpstream, **memory: Any) -> dict[str, Any]:
    routing = fake.routing_config(
        providers={"a": "openai", "s": "openai"},
        models={"m": {"deployments": [dep("a", "up-m")]}, "cheap": {"deployments": [dep("s", "up-cheap")]}},
    )
    return {**routing, "memory": memory} if memory else routing


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def say(
    client: httpx.AsyncClient, text: str, conversation: str | None = "c1", **extra: Any
) -> httpx.Response:
    headers = {CONVERSATION: conversation} if conversation else {}
    headers.update(extra.pop("headers", {}))
    body = {"model": "m", "messages": [user(text)], **extra}
    return await client.post("/v1/chat/completions", json=body, headers=headers)


def sent(fake: FakeUpstream, name: str = "a") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = fake.calls(name)[-1].body["messages"]
    return messages


def gateway_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app.app.state.gateway  # type: ignore[attr-defined]


async def test_remembered_turns_go_before_the_new_message_until_forgotten(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state)
    fake_upstream.script("a", Reply.ok("Hi Ann."), Reply.ok("You are Ann."), Reply.ok("Who?"))
    first = await say(client, "I am Ann.")
    assert first.status_code == 200 and first.headers["x-switchyard-memory"] == "recalled=0"
    second = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "system", "content": "Be brief."}, user("Who am I?")]},
        headers={CONVERSATION: "c1"},
    )
    assert second.headers["x-switchyard-memory"] == "recalled=2"
    assert sent(fake_upstream) == [
        {"role": "system", "content": "Be brief."},
        user("I am Ann."),
        {"role": "assistant", "content": "Hi Ann."},
        user("Who am I?"),
    ]
    shown = (await client.get("/v1/conversations/c1")).json()
    assert [m["content"] for m in shown["messages"]] == ["I am Ann.", "Hi Ann.", "Who am I?", "You are Ann."]
    assert shown["summary"] is None and shown["tokens"] > 0 and shown["object"] == "conversation"
    assert (await client.delete("/v1/conversations/c1")).status_code == 204
    assert (await client.get("/v1/conversations/c1")).status_code == 404
    assert (await client.delete("/v1/conversations/c1")).status_code == 404
    await say(client, "Hello again.")
    assert sent(fake_upstream) == [user("Hello again.")]


async def test_two_tenants_using_one_id_never_see_each_others_turns(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    client = await gateway(config(fake_upstream), settings_extra=state)
    keys = {}
    for tenant in ("acme", "globex"):
        made = (await client.post("/admin/keys", json={"tenant": tenant})).json()
        keys[tenant] = {"Authorization": f"Bearer {made['key']}"}
    fake_upstream.script("a", Reply.ok("Noted, acme."), Reply.ok("Hello globex."), Reply.ok("ok"))
    await say(client, "acme's launch code is 1234.", "shared", headers=keys["acme"])
    await say(client, "What do you know?", "shared", headers=keys["globex"])
    assert sent(fake_upstream) == [user("What do you know?")]  # nothing of acme's
    globex = (await client.get("/v1/conversations/shared", headers=keys["globex"])).json()
    assert "1234" not in json.dumps(globex)
    assert [m["content"] for m in globex["messages"]] == ["What do you know?", "Hello globex."]
    assert (await client.delete("/v1/conversations/shared", headers=keys["globex"])).status_code == 204
    acme = (await client.get("/v1/conversations/shared", headers=keys["acme"])).json()
    assert [m["content"] for m in acme["messages"]] == ["acme's launch code is 1234.", "Noted, acme."]


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/messages"])
async def test_a_streamed_answer_is_remembered_when_complete_and_only_then(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, route: str
) -> None:
    client = await gateway(config(fake_upstream))
    body = {"model": "m", "max_tokens": 50, "stream": True, "messages": [user("Tell me a story.")]}
    fake_upstream.script("a", Reply.stream("Once upon a time, the end."))
    streamed = await client.post(route, json=body, headers={CONVERSATION: "s"})
    assert streamed.status_code == 200 and "upon" in streamed.text
    fake_upstream.script("a", Reply.stream("A long story that breaks", drop_after=3))
    cut = await client.post(route, json={**body, "messages": [user("Another?")]}, headers={CONVERSATION: "s"})
    assert cut.status_code == 200  # the failure is an event in the stream
    shown = (await client.get("/v1/conversations/s")).json()
    assert [m["content"] for m in shown["messages"]] == ["Tell me a story.", "Once upon a time, the end."]


async def test_past_the_token_bound_the_oldest_turns_are_dropped(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    # Each turn here is 4 + 10 tokens (40 characters): four fit in 60, compaction keeps two.
    client = await gateway(config(fake_upstream, max_tokens=60, compact_to=0.5), settings_extra=state)
    words = [f"{'question' if i % 2 == 0 else 'answer'} {i}".ljust(40, ".") for i in range(8)]
    for i in range(0, 6, 2):
        fake_upstream.script("a", Reply.ok(words[i + 1]))
        answered = await say(client, words[i])
    assert answered.headers["x-switchyard-memory"] == "recalled=4"
    fake_upstream.script("a", Reply.ok(words[7]))
    compacted = await say(client, words[6])
    assert compacted.headers["x-switchyard-memory"] == "recalled=2; dropped=4"
    assert [m["content"] for m in sent(fake_upstream)] == words[4:7]
    shown = (await client.get("/v1/conversations/c1")).json()
    assert [m["content"] for m in shown["messages"]] == words[4:8]


async def test_past_the_token_bound_old_turns_are_summarized_by_the_cheap_model(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state: dict[str, Any]
) -> None:
    memory = {"max_tokens": 60, "overflow": "summarize", "summary_model": "cheap", "summary_max_tokens": 16}
    client = await gateway(config(fake_upstream, **memory), settings_extra=state)
    for i in range(3):  # 6 turns of 14 tokens: past 60
        fake_upstream.script("a", Reply.ok(f"answer {i} ".ljust(40, ".")))
        await say(client, f"question {i} ".ljust(40, "."))
    fake_upstream.script("s", Reply.ok("Ann asked two questions.", input_tokens=50, output_tokens=6))
    fake_upstream.script("a", Reply.ok("ok"))
    summarized = await say(client, "and now?")
    assert summarized.headers["x-switchyard-memory"] == "recalled=0; summarized=6"
    [summary_call] = fake_upstream.calls("s")
    assert summary_call.body["model"] == "up-cheap" and summary_call.body["temperature"] == 0
    assert "question 0" in summary_call.body["messages"][1]["content"]
    assert sent(fake_upstream) == [
        {"role": "system", "content": "Summary of the earlier conversation: Ann asked two questions."},
        user("and now?"),
    ]
    shown = (await client.get("/v1/conversations/c1")).json()
    assert shown["summary"] == "Ann asked two questions."
    assert [m["content"] for m in shown["messages"]] == ["and now?", "ok"]
    gw = gateway_of(client)
    assert gw.metrics.totals()[MEMORY_SUMMARIES] == 1
    await gw.usage.drain()
    usage = (await client.get("/v1/usage", params={"group_by": "model"})).json()
    assert "cheap" in [row["group"] for row in usage["data"]]  # the summary is the caller's usage too


async def test_a_summary_that_cannot_be_written_drops_the_turns_instead(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    memory = {"max_tokens": 60, "overflow": "summarize", "summary_model": "cheap", "summary_max_tokens": 16}
    client = await gateway(config(fake_upstream, **memory))
    for i in range(3):
        fake_upstream.script("a", Reply.ok(f"answer {i} ".ljust(40, ".")))
        await say(client, f"question {i} ".ljust(40, "."))
    fake_upstream.set_default("s", Reply.server_error(503))
    fake_upstream.script("a", Reply.ok("still here"))
    answered = await say(client, "and now?")
    assert answered.status_code == 200 and answered.headers["x-switchyard-memory"] == "recalled=0; dropped=6"
    assert sent(fake_upstream) == [user("and now?")]
    assert gateway_of(client).metrics.totals()[MEMORY_SUMMARY_FAILED] == 1


class Unreachable(MemoryConversationStore):
    """A conversation store whose every call fails like an unreachable DynamoDB table."""

    async def load(self, tenant: str, conversation_id: str) -> Any:
        raise StateUnavailableError("DynamoDB Query: EndpointConnectionError")

    async def save(self, *args: Any, **kwargs: Any) -> None:
        raise StateUnavailableError("DynamoDB UpdateItem: EndpointConnectionError")

    async def delete(self, tenant: str, conversation_id: str) -> bool:
        raise StateUnavailableError("DynamoDB Query: EndpointConnectionError")


async def test_an_unreachable_memory_costs_the_context_not_the_answer(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    gw = gateway_of(client)
    gw.memory.store = Unreachable()
    answered = await say(client, "Hello?")
    assert answered.status_code == 200 and answered.headers["x-switchyard-memory"] == "unavailable"
    assert sent(fake_upstream) == [user("Hello?")]
    assert gw.metrics.totals()[MEMORY_UNAVAILABLE] == 1 and gw.metrics.totals()[MEMORY_SAVE_FAILED] == 1
    shown = await client.get("/v1/conversations/c1")
    assert shown.status_code == 503 and shown.json()["error"]["code"] == "state_unavailable"
    assert "EndpointConnectionError" not in shown.text
    assert (await client.delete("/v1/conversations/c1")).status_code == 503


async def test_a_memory_configured_to_fail_closed_refuses_instead(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream), settings_extra={"memory_fail_closed": True})
    gateway_of(client).memory.store = Unreachable()
    refused = await say(client, "Hello?")
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert fake_upstream.count("a") == 0
    assert (await say(client, "No conversation.", conversation=None)).status_code == 200


async def test_conversation_ids_are_checked_and_may_come_in_metadata(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    bad = await say(client, "hi", "not an id!")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_conversation_id"
    two = await say(client, "hi", "a", metadata={"conversation": "b"})
    assert two.status_code == 400
    assert (await client.get("/v1/conversations/not%20an%20id")).status_code == 400
    fake_upstream.script("a", Reply.ok("first"), Reply.ok("second"))
    await say(client, "one", None, metadata={"conversation": "meta", "team": "x"})
    assert fake_upstream.calls("a")[-1].body["metadata"] == {"team": "x"}  # the id stays here
    await say(client, "two", None, metadata={"conversation": "meta"})
    assert [m["content"] for m in sent(fake_upstream)] == ["one", "first", "two"]


async def test_a_personas_memory_settings_apply_to_its_calls(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await gateway(config(fake_upstream))
    for name, memory in (("forgetful", {"enabled": False}), ("brief", {"max_tokens": 16})):
        made = await client.put(
            f"/admin/personas/default/{name}", json={"system_prompt": f"You are {name}.", "memory": memory}
        )
        assert made.status_code == 200, made.text
    persona = {"x-switchyard-persona": "forgetful"}
    off = await say(client, "hi", "p1", headers=persona)
    assert off.headers["x-switchyard-memory"] == "off"
    assert (await client.get("/v1/conversations/p1")).status_code == 404
    brief = {"x-switchyard-persona": "brief"}
    await say(client, "a first message long enough to pass sixteen tokens alone", "p2", headers=brief)
    again = await say(client, "hi", "p2", headers=brief)
    assert again.headers["x-switchyard-memory"] == "recalled=0; dropped=2"
    assert [m["role"] for m in sent(fake_upstream)] == ["system", "user"]


async def test_a_turn_larger_than_a_dynamodb_item_is_remembered(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state_tables: Any
) -> None:
    import random

    client = await gateway(
        config(fake_upstream, max_tokens=1_000_000), settings_extra=dynamo_settings(state_tables)
    )
    huge = random.Random(3).randbytes(300_000).hex()  # 600 KB of text that compresses poorly
    assert (await say(client, huge)).status_code == 200
    await say(client, "and?")
    assert sent(fake_upstream)[0]["content"] == huge
    shown = (await client.get("/v1/conversations/c1")).json()
    assert shown["messages"][0]["content"] == huge


async def test_on_an_unreachable_dynamodb_the_call_is_answered_without_memory(
    fake_upstream: FakeUpstream, gateway: GatewayFactory, state_tables: Any
) -> None:
    from conftest import free_port

    dead = {  # nothing listens there: every DynamoDB call fails to connect
        **dynamo_settings(state_tables),
        "aws_endpoint_url": f"http://127.0.0.1:{free_port()}",
        "state_timeout_s": 1.0,
        "state_max_attempts": 1,
    }
    client = await gateway(config(fake_upstream), settings_extra=dead)
    answered = await say(client, "Still there?")
    assert answered.status_code == 200 and answered.headers["x-switchyard-memory"] == "unavailable"
    assert sent(fake_upstream) == [user("Still there?")]
    persona = await say(client, "hi", None, headers={"x-switchyard-persona": "never-seen"})
    assert persona.status_code == 503 and persona.json()["error"]["code"] == "state_unavailable"
