"""Output checks on a stream as it passes: a blocked term never reaches the client (even split
across chunks), only the window a rule needs is held back, redactions and restored placeholders
survive any split, tool-call arguments and several choices are channels of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta
from switchyard.config.guardrails import BlocklistConfig
from switchyard.errors import ContentBlockedError
from switchyard.guardrails.blocklist import Blocklist
from switchyard.guardrails.pii import PiiDetector
from switchyard.guardrails.redact import Redactions, Restorer
from switchyard.guardrails.scan import Rule, Scan, block
from switchyard.guardrails.stream import Filtered, TextFilter
from switchyard.guardrails.tally import Tally


def chunk(text: str | None = None, *, index: int = 0, finish: str | None = None) -> ChatCompletionChunk:
    choice = ChunkChoice(index=index, delta=Delta(content=text), finish_reason=finish)
    return ChatCompletionChunk(id="c1", model="m", choices=[choice])


async def source(chunks: list[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    for c in chunks:
        yield c


async def passed(text_filter: TextFilter, chunks: list[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [c async for c in Filtered(lambda: text_filter).run(source(chunks))]


def text_of(chunks: list[ChatCompletionChunk], index: int = 0) -> str:
    return "".join(c.delta.content or "" for ch in chunks for c in ch.choices if c.index == index)


def scan(tally: Tally, *, words: tuple[str, ...] = ("forbidden",), pii: tuple[str, ...] = ()) -> Scan:
    rules = [Rule("p", Blocklist(BlocklistConfig(words=words)).find, block, len(max(words, key=len)))]
    if pii:
        detector = PiiDetector(pii)  # type: ignore[arg-type]
        rules.append(Rule("p", detector.find, lambda rule: "redact", detector.window))
    return Scan(rules, tally)


def pieces(text: str, size: int) -> list[ChatCompletionChunk]:
    return [chunk(text[i : i + size]) for i in range(0, len(text), size)] + [chunk(finish="stop")]


async def test_a_blocked_word_split_across_chunks_never_goes_out() -> None:
    tally = Tally()
    sent: list[ChatCompletionChunk] = []
    with pytest.raises(ContentBlockedError) as blocked:
        async for c in Filtered(lambda: scan(tally)).run(
            source(pieces("All fine so far. Then forbidden.", 3))
        ):
            sent.append(c)
    assert "forb" not in text_of(sent).lower()
    assert text_of(sent).startswith("All fine so")  # what came before the window went out
    assert (blocked.value.guardrail, blocked.value.rule, blocked.value.stage) == (
        "p",
        "blocklist.word",
        "output",
    )
    assert "forbidden" not in blocked.value.message
    assert tally.counts == {("p", "blocked", "blocklist.word"): 1}


async def test_only_the_window_is_held_back() -> None:
    text = "a" * 10 + " " + "b" * 200
    out = await passed(scan(Tally(), words=("abcdefghij",)), pieces(text, 50))
    # Every chunk but the last releases all but the ten characters a term may need.
    lengths = [len(c.choices[0].delta.content or "") for c in out]
    assert lengths[0] == 50 - 10 and text_of(out) == text
    assert out[-1].choices[0].finish_reason == "stop"


async def test_a_word_at_the_end_of_a_piece_waits_for_the_next_one() -> None:
    # "ass" ends the second piece, but "assistant" is not the blocked word.
    out = await passed(
        scan(Tally(), words=("ass",)),
        [chunk("I am an "), chunk("ass"), chunk("istant"), chunk(finish="stop")],
    )
    assert text_of(out) == "I am an assistant"


async def test_pii_in_a_stream_is_redacted_whatever_the_split() -> None:
    tally = Tally()
    text = "Contact jane.doe@example.com or 4111 1111 1111 1111 for details, thanks."
    for size in (1, 2, 5, 13, 100):
        out = await passed(scan(tally, pii=("email", "credit_card")), pieces(text, size))
        assert text_of(out) == "Contact [EMAIL_REDACTED] or [CREDIT_CARD_REDACTED] for details, thanks."
    assert tally.counts[("p", "redacted", "pii.email")] == 5


async def test_placeholders_are_restored_whatever_the_split() -> None:
    redactions = Redactions()
    email = redactions.placeholder("pii.email", "bob@example.com", restore=True)
    kept = redactions.placeholder("pii.phone", "+1 415 555 0132", restore=False)
    text = f"Hi {email} [not one] {kept}, yes {email}. ["
    for size in (1, 3, 7, 50):
        out = await passed(Restorer(redactions), pieces(text, size))
        assert text_of(out) == "Hi bob@example.com [not one] [PHONE_1], yes bob@example.com. ["


async def test_tool_call_arguments_and_choices_are_channels_of_their_own() -> None:
    def call_chunk(arguments: str, *, first: bool = False) -> ChatCompletionChunk:
        function = FunctionCallDelta(name="send" if first else None, arguments=arguments)
        delta = Delta(tool_calls=[ToolCallDelta(index=0, id="call_1" if first else None, function=function)])
        return ChatCompletionChunk(id="c1", choices=[ChunkChoice(index=0, delta=delta)])

    chunks = [
        call_chunk('{"to": "a@b', first=True),
        chunk("other choice a@b.io", index=1),
        call_chunk('.io"}'),
        chunk(index=1, finish="stop"),
        chunk(finish="tool_calls"),
    ]
    out = await passed(scan(Tally(), pii=("email",)), chunks)
    arguments = "".join(
        t.function.arguments or ""
        for c in out
        for ch in c.choices
        for t in ch.delta.tool_calls or ()
        if t.function is not None
    )
    assert arguments == '{"to": "[EMAIL_REDACTED]"}'
    assert text_of(out, 1) == "other choice [EMAIL_REDACTED]"
    first = next(t for c in out for ch in c.choices for t in ch.delta.tool_calls or ())
    assert first.id == "call_1" and first.function is not None and first.function.name == "send"


async def test_held_text_goes_out_when_a_stream_ends_without_a_finish_reason() -> None:
    out = await passed(scan(Tally(), words=("abcdefghijklmnop",)), [chunk("short tail")])
    assert text_of(out) == "short tail"


async def test_an_upstream_chunk_s_raw_json_is_not_sent_once_its_text_changed() -> None:
    raw = chunk("mail a@b.io now")
    raw.keep_raw(b'{"raw": "a@b.io"}')
    out = await passed(scan(Tally(), pii=("email",)), [raw, chunk(finish="stop")])
    assert all(c.raw_json is None for c in out)
    assert b"a@b.io" not in b"".join(c.to_json() for c in out)
