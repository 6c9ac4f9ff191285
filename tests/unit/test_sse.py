"""The incremental SSE decoder shared by the streaming adapters."""

from __future__ import annotations

import pytest

from switchyard.providers.sse import SSEDecoder, SSEEvent

STREAM = (
    b'data: {"a": 1}\n\n'
    b": keep-alive comment\n\n"
    b"event: message_start\r\n"
    b'data: {"b": 2}\r\n\r\n'
    b"event: multi\n"
    b"data: line one\n"
    b"data:line two\n"
    b"id: 7\n"
    b"retry: 1000\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent(None, b'{"a": 1}'),
    SSEEvent("message_start", b'{"b": 2}'),
    SSEEvent("multi", b"line one\nline two"),
    SSEEvent(None, b"[DONE]"),
]


def _decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events + decoder.flush()


def test_whole_stream_in_one_piece() -> None:
    assert _decode([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16])
def test_any_split_gives_the_same_events(size: int) -> None:
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert _decode(pieces) == EXPECTED


def test_crlf_split_between_pieces_is_one_line_end() -> None:
    assert _decode([b"data: x\r", b"\n\r", b"\n"]) == [SSEEvent(None, b"x")]


def test_bare_cr_line_ends() -> None:
    assert _decode([b"event: e\rdata: y\r\r"]) == [SSEEvent("e", b"y")]


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n") == []
    assert decoder.feed(b"\n") == [SSEEvent(None, b"one")]
    assert decoder.feed(b"data: tw") == []
    assert decoder.feed(b"o\n\ndata: three\n\n") == [SSEEvent(None, b"two"), SSEEvent(None, b"three")]


def test_flush_dispatches_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last") == []
    assert decoder.flush() == [SSEEvent(None, b"last")]


def test_event_without_data_is_not_dispatched_and_its_name_does_not_leak() -> None:
    assert _decode([b"event: ping\n\ndata: after\n\n"]) == [SSEEvent(None, b"after")]


def test_field_without_colon_and_empty_data() -> None:
    assert _decode([b"data\n\n", b"data:\n\n"]) == [SSEEvent(None, b""), SSEEvent(None, b"")]


def test_only_one_leading_space_is_stripped() -> None:
    assert _decode([b"data:  two spaces\n\n"]) == [SSEEvent(None, b" two spaces")]
