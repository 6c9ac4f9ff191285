"""Signed requests, for clients: ``x-switchyard-signature: t=<unix time>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256 of ``"<t>.<body>"`` (the raw bytes sent) under the key's signing
secret: the scheme the gateway's webhooks use. A key (or its tenant) that requires signatures
refuses an unsigned request, one whose ``t`` is more than five minutes from the gateway's clock
(either way), one whose ``v1`` does not match, and one whose signature it has seen before::

    from switchyard.signing import sign

    body = json.dumps(request).encode()
    headers = {"x-switchyard-signature": sign(secret, body)}

Only the standard library is imported here, so a client installs nothing of the gateway to sign.
:class:`Signer` signs every request of an ``httpx`` client (the ``openai`` and ``anthropic``
SDKs take one as ``http_client``), each attempt afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

HEADER = "x-switchyard-signature"
WINDOW_S = 300  # how far ``t`` may be from the gateway's clock, either way
_REMEMBERED = 256  # bodies a Signer remembers the last timestamp of


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex ``v1`` value: HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, *, timestamp: int | None = None) -> str:
    """The ``x-switchyard-signature`` value for ``body`` (the exact bytes sent) now, or at
    ``timestamp`` (unix seconds)."""
    raw = body.encode() if isinstance(body, str) else body
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, raw, t)}"


def parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` values of a signature header. Raises ValueError when there is
    no integer ``t`` or no ``v1``."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value.strip())
    timestamp = int(parts["t"][0]) if "t" in parts else None
    values = [v for v in parts.get("v1", ()) if v]
    if timestamp is None or not values:
        raise ValueError("expected t=<unix time>,v1=<hex>")
    return timestamp, values


class Signer:
    """Signs each request an ``httpx`` client sends (an event hook: ``event_hooks={"request":
    [signer]}``, or ``[signer.async_hook]`` for an ``AsyncClient``).

    The gateway refuses a signature it has seen, so two identical bodies signed in the same second
    (an SDK's retry, a poll) would clash: the second gets the next second's timestamp instead.
    """

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock
        self._last: OrderedDict[str, int] = OrderedDict()  # body digest -> last timestamp used

    def header(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        t = int(self._clock())
        last = self._last.pop(digest, None)
        if last is not None and t <= last:
            t = last + 1
        self._last[digest] = t
        while len(self._last) > _REMEMBERED:
            self._last.popitem(last=False)
        return sign(self._secret, body, timestamp=t)

    def __call__(self, request: Any) -> None:
        """The sync hook: ``request`` is an ``httpx.Request`` whose body is in memory."""
        request.headers[HEADER] = self.header(request.read())

    async def async_hook(self, request: Any) -> None:
        request.headers[HEADER] = self.header(await request.aread())
