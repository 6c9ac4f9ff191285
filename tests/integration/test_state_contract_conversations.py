"""The ``ConversationStore`` contract, run over the memory adapter and the DynamoDB one on moto (the
table of template.yaml): turns in order across instances, tenants apart, compaction, expiry, and
turns larger than one DynamoDB item."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from statekit import T0, Clock, instances
from switchyard.state.conversations import Compaction, ConversationStore, NewTurn
from switchyard.state.dynamodb_conversations import DynamoConversationStore
from switchyard.state.memory_conversations import MemoryConversationStore

Backend = Callable[[], ConversationStore]
DAY = 86400.0


def said(text: str, role: str = "user", tokens: int = 3) -> NewTurn:
    return NewTurn(json.dumps({"role": role, "content": text}).encode(), tokens)


def texts(conversation: Any) -> list[str]:
    return [json.loads(t.message)["content"] for t in conversation.turns]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Backend]:
    yield from instances(
        request,
        lambda: MemoryConversationStore(clock=clock),
        lambda table: DynamoConversationStore(table, clock=clock),
    )


async def test_turns_saved_by_one_instance_are_loaded_in_order_by_another(backend: Backend) -> None:
    assert await backend().load("acme", "c1") is None
    await backend().save(
        "acme", "c1", [said("hi"), said("hello", "assistant", 5)], now=T0, expires_at=T0 + DAY
    )
    await backend().save("acme", "c1", [said("more")], now=T0 + 1, expires_at=T0 + 1 + DAY)
    conversation = await backend().load("acme", "c1")
    assert conversation is not None
    assert texts(conversation) == ["hi", "hello", "more"]
    assert [t.seq for t in conversation.turns] == [0, 1, 2]
    assert [t.tokens for t in conversation.turns] == [3, 5, 3]
    assert conversation.turns[2].at == T0 + 1 and conversation.turns[2].expires_at == T0 + 1 + DAY
    assert (conversation.created_at, conversation.updated_at) == (T0, T0 + 1)
    assert conversation.expires_at == T0 + 1 + DAY and conversation.tokens == 11


async def test_two_tenants_with_one_conversation_id_never_see_each_other(backend: Backend) -> None:
    await backend().save("acme", "same", [said("acme's secret")], now=T0, expires_at=T0 + DAY)
    await backend().save("globex", "same", [said("globex's")], now=T0, expires_at=T0 + DAY)
    acme, globex = await backend().load("acme", "same"), await backend().load("globex", "same")
    assert acme is not None and globex is not None
    assert (texts(acme), texts(globex)) == (["acme's secret"], ["globex's"])
    assert await backend().delete("globex", "same")
    assert texts(await backend().load("acme", "same")) == ["acme's secret"]


async def test_concurrent_saves_all_land_with_numbers_of_their_own(backend: Backend) -> None:
    await asyncio.gather(
        *(
            backend().save("acme", "c", [said(f"q{i}"), said(f"a{i}")], now=T0, expires_at=T0 + DAY)
            for i in range(5)
        )
    )
    conversation = await backend().load("acme", "c")
    assert conversation is not None
    assert [t.seq for t in conversation.turns] == list(range(10))
    pairs = {(texts(conversation)[i], texts(conversation)[i + 1]) for i in range(0, 10, 2)}
    assert pairs == {(f"q{i}", f"a{i}") for i in range(5)}  # each save's turns stay together


async def test_a_compaction_forgets_turns_below_its_floor_and_keeps_its_summary(backend: Backend) -> None:
    store = backend()
    await store.save("acme", "c", [said(str(i)) for i in range(4)], now=T0, expires_at=T0 + DAY)
    summary = Compaction(floor=3, summary="they counted to three", summary_tokens=6)
    await store.save("acme", "c", [said("4")], now=T0 + 1, expires_at=T0 + DAY, compaction=summary)
    conversation = await backend().load("acme", "c")
    assert conversation is not None
    assert texts(conversation) == ["3", "4"] and [t.seq for t in conversation.turns] == [3, 4]
    assert (conversation.summary, conversation.summary_tokens, conversation.floor) == (
        "they counted to three",
        6,
        3,
    )
    assert conversation.tokens == 6 + 3 + 3
    # A compaction alone (no new turns) is a save too.
    await store.save("acme", "c", [], now=T0 + 2, expires_at=T0 + DAY, compaction=Compaction(floor=5))
    emptied = await backend().load("acme", "c")
    assert emptied is not None and emptied.turns == () and emptied.summary == ""


async def test_turns_expire_one_by_one_and_an_expired_conversation_starts_over(
    backend: Backend, clock: Clock
) -> None:
    await backend().save("acme", "c", [said("old")], now=T0, expires_at=T0 + 100)
    clock.advance(50)
    summary = Compaction(floor=0, summary="earlier", summary_tokens=1)
    await backend().save("acme", "c", [said("new")], now=T0 + 50, expires_at=T0 + 150, compaction=summary)
    clock.advance(50)  # the first turn is past its own expiry, the conversation is not
    conversation = await backend().load("acme", "c")
    assert conversation is not None and texts(conversation) == ["new"]
    clock.advance(50)
    assert await backend().load("acme", "c") is None
    await backend().save("acme", "c", [said("again")], now=T0 + 150, expires_at=T0 + 300)
    restarted = await backend().load("acme", "c")
    assert restarted is not None
    assert (texts(restarted), restarted.summary, restarted.created_at) == (["again"], "", T0 + 150)


async def test_a_turn_larger_than_an_item_round_trips(backend: Backend) -> None:
    huge = random.Random(7).randbytes(600_000).hex()  # 1.2 MB of text, ~0.7 MB compressed
    await backend().save(
        "acme", "c", [said(huge, tokens=300_000), said("after")], now=T0, expires_at=T0 + DAY
    )
    conversation = await backend().load("acme", "c")
    assert conversation is not None and texts(conversation) == [huge, "after"]
    assert await backend().delete("acme", "c")
    assert await backend().load("acme", "c") is None


async def test_delete_forgets_everything_and_says_whether_there_was_anything(backend: Backend) -> None:
    assert not await backend().delete("acme", "nothing")
    await backend().save("acme", "c", [said("x")], now=T0, expires_at=T0 + DAY)
    assert await backend().delete("acme", "c")
    assert await backend().load("acme", "c") is None
    assert not await backend().delete("acme", "c")
    await backend().save("acme", "c", [said("fresh")], now=T0 + 1, expires_at=T0 + DAY)
    conversation = await backend().load("acme", "c")
    assert conversation is not None and texts(conversation) == ["fresh"]
