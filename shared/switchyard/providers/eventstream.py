"""Opening an upstream ``application/vnd.amazon.eventstream`` answer (Bedrock's ConverseStream):
the binary twin of :func:`switchyard.providers.sse_http.open_sse`, under the same two clocks.

Each frame is a 12-byte prelude (total and headers length, CRC32), typed headers, a payload and a
CRC32 of the whole. botocore's ``EventStreamBuffer`` decodes them (checksums included) as bytes
arrive in any pieces; it is imported when a stream opens (botocore comes with the Lambda runtime,
see :mod:`switchyard.providers.aws_sigv4`). A frame that fails its checksum or its framing ends the
stream with ``bad_response``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import cast

import httpx

from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response
from switchyard.providers.http import Upstream, parsed_url
from switchyard.providers.sse_http import StatusClassifier, stream_body, stream_timeouts

EVENTSTREAM = "application/vnd.amazon.eventstream"


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One decoded frame: ``kind`` is ``:event-type`` for events, ``:exception-type`` for
    exceptions, ``:error-code`` for errors."""

    message_type: str  # event | exception | error
    kind: str
    payload: bytes


def message_of(headers: Mapping[str, object], payload: bytes) -> StreamMessage:
    message_type = str(headers.get(":message-type") or "event")
    name = {"exception": ":exception-type", "error": ":error-code"}.get(message_type, ":event-type")
    return StreamMessage(message_type, str(headers.get(name) or ""), payload)


async def open_event_stream(
    client: Upstream,
    target: Target,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    classify: StatusClassifier,
) -> AsyncGenerator[StreamMessage]:
    """POST ``body`` and yield the answer's frames; failures as ``stream_body`` raises them (a
    non-2xx answer as ``classify`` says). Use it inside ``contextlib.aclosing``."""
    from botocore.eventstream import EventStreamBuffer, ParserError

    request = httpx.Request(
        "POST",
        parsed_url(url),
        content=body,
        headers={**headers, "accept": EVENTSTREAM},
        extensions={"timeout": stream_timeouts(target).as_dict()},
    )
    buffer = EventStreamBuffer()
    async with aclosing(stream_body(client, target, request, classify=classify)) as chunks:
        async for chunk in chunks:
            buffer.add_data(chunk)
            try:
                messages = list(buffer)
            except ParserError as exc:
                raise bad_response("(a corrupt event stream frame)") from exc
            for message in messages:
                # botocore's stubs type the headers as int; they are a dict of name to value.
                yield message_of(cast(Mapping[str, object], message.headers), message.payload)
