"""An incremental Server-Sent Events decoder, shared by every streaming adapter.

Follows the WHATWG event-stream rules the adapters need: lines end in LF, CRLF or CR; a blank line
dispatches the event; ``data`` lines are joined with LF; lines starting with ``:`` are comments;
one space after the colon is dropped; ``id`` and ``retry`` are ignored (nothing reconnects). Bytes
arrive in arbitrary pieces, so a line or a CRLF may be split between two ``feed`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None  # None when the event had no ``event:`` line (OpenAI's chunks)
    data: bytes


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk`` (often none or one)."""
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.splitlines(keepends=True)
        # An unterminated last line waits for more bytes; so does one ending in a bare CR, whose LF
        # may be the first byte of the next chunk (a CRLF split in two must stay one line end).
        if lines and not lines[-1].endswith(b"\n"):
            self._buffer = lines.pop()
        else:
            self._buffer = b""
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line.rstrip(b"\r\n"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: a last line without its terminator still counts, and an event not
        followed by a blank line is dispatched (some servers close right after the data)."""
        events = self.feed(b"\n") if self._buffer else []
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = SSEEvent(self._event, b"\n".join(self._data))
            self._event, self._data = None, []
            return event
        if line[0] == 0x3A:  # ':' comment
            return None
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None
