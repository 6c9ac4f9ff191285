"""switchyard.memory: the window of turns a call is sent, the policy of a call, messages as turns,
and a streamed answer put back together."""

from __future__ import annotations

from switchyard.api.chat import Message
from switchyard.api.stream import ChatCompletionChunk
from switchyard.config.routing import MemoryConfig
from switchyard.memory import policy_for
from switchyard.memory.policy import MemoryPolicy
from switchyard.memory.turns import StreamedAnswer, decoded, encoded, tokens_of
from switchyard.memory.window import window
from switchyard.state.conversations import Turn
from switchyard.state.personas import PersonaMemory, PersonaRecord

POLICY = MemoryPolicy(
    max_tokens=100, compact_to=0.5, ttl_s=60, overflow="drop", summary_model=None, summary_max_tokens=20
)


def turns(*roles_tokens: tuple[str, int]) -> list[tuple[Turn, Message]]:
    return [
        (Turn(i, b"", tokens, 0.0, 0.0), Message(role=role, content="x"))  # type: ignore[arg-type]
        for i, (role, tokens) in enumerate(roles_tokens)
    ]


def test_everything_is_sent_while_it_fits() -> None:
    remembered = turns(("user", 40), ("assistant", 40))
    shown = window(remembered, 20, POLICY)
    assert shown.kept == tuple(remembered) and shown.forgotten == ()


def test_past_the_bound_the_newest_turns_that_fit_the_kept_share_stay() -> None:
    remembered = turns(("user", 30), ("assistant", 30), ("user", 20), ("assistant", 25))
    shown = window(remembered, 0, POLICY)
    assert [t.seq for t, _ in shown.kept] == [2, 3] and shown.floor == 2
    # an existing summary takes its room when dropping, the summary's cap when summarizing
    assert window(remembered, 10, POLICY).kept == ()  # only [3] fits, and it is not a user turn
    summarizing = MemoryPolicy(100, 0.5, 60, "summarize", "cheap", summary_max_tokens=5)
    assert [t.seq for t, _ in window(remembered, 0, summarizing).kept] == [2, 3]
    assert window(remembered, 0, MemoryPolicy(100, 0.5, 60, "summarize", "cheap", 30)).kept == ()


def test_what_is_kept_starts_with_a_user_turn() -> None:
    remembered = turns(("user", 61), ("assistant", 10), ("tool", 10), ("assistant", 10), ("user", 10))
    shown = window(remembered, 0, POLICY)
    assert [t.seq for t, _ in shown.kept] == [4]
    assert [t.seq for t, _ in shown.forgotten] == [0, 1, 2, 3]
    nothing = window(turns(("user", 200)), 0, POLICY)
    assert nothing.kept == () and nothing.floor == 1


def test_a_persona_overrides_the_config_and_can_turn_memory_off() -> None:
    config = MemoryConfig(max_tokens=500, ttl_s=3600, overflow="summarize", summary_model="cheap")
    assert policy_for(config, None) == MemoryPolicy(500, 0.5, 3600, "summarize", "cheap", 400)
    persona = PersonaRecord("t", "p", "s", memory=PersonaMemory(max_tokens=50, overflow="drop"))
    assert policy_for(config, persona) == MemoryPolicy(50, 0.5, 3600, "drop", "cheap", 400)
    assert policy_for(config, PersonaRecord("t", "p", "s", memory=PersonaMemory(enabled=False))) is None
    assert policy_for(MemoryConfig(enabled=False), None) is None
    no_model = PersonaRecord("t", "p", "s", memory=PersonaMemory(overflow="summarize"))
    assert policy_for(MemoryConfig(), no_model) == MemoryPolicy(4000, 0.5, 7 * 86400, "drop", None, 400)


def test_messages_round_trip_as_turns_and_count_about_four_characters_a_token() -> None:
    message = Message(role="user", content=[{"type": "text", "text": "x" * 40}])  # type: ignore[list-item]
    assert decoded(encoded(message)) == message
    assert tokens_of(message) == 4 + 10
    assert decoded(b'{"role": "nobody"}') is None


def test_a_streamed_answer_with_tool_calls_is_put_back_together() -> None:
    streamed = StreamedAnswer()
    deltas = [
        {"role": "assistant"},
        {"content": "Let me "},
        {"content": "check."},
        {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "weather", "arguments": '{"ci'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]},
    ]
    for delta in deltas:
        streamed.add(ChatCompletionChunk.model_validate({"choices": [{"index": 0, "delta": delta}]}))
    streamed.add(
        ChatCompletionChunk.model_validate({"choices": [{"index": 1, "delta": {"content": "other"}}]})
    )
    message = streamed.message()
    assert message.content == "Let me check."
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "weather", '{"city": "Oslo"}')
