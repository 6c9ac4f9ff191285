"""Text the gateway echoes into response headers (``x-switchyard-model`` names the caller's model).

An HTTP header value cannot carry control characters, and Starlette encodes values as Latin-1:
uvicorn refuses a value with CR, LF or NUL by dropping the connection without any response (a 502
behind the Lambda Web Adapter), and a character outside Latin-1 fails the response with a 500 —
after the upstream call was made and paid for. So every caller-supplied value that can reach a
header is checked where it is parsed, by :data:`HeaderText` in the wire models, and refused with a
400 in the route's error shape.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls (CR, LF, NUL, TAB...), DEL and C1 controls; anything past Latin-1.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f]|[^\x00-\xff]")


def header_safe(value: str) -> bool:
    """True when ``value`` can be sent as (part of) an HTTP header value as it is."""
    return _UNSAFE.search(value) is None


def _check(value: str) -> str:
    if not header_safe(value):
        raise ValueError("must be printable Latin-1 text, without control characters")
    return value


# A string the gateway may echo into a response header.
HeaderText = Annotated[str, AfterValidator(_check)]
