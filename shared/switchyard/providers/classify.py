"""One mapping from an upstream HTTP failure to a :class:`ProviderError` kind (DESIGN §3 table)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time

import httpx

from switchyard.errors import Kind, ProviderError

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "input is too long",
)
_QUOTA_MARKERS = ("insufficient_quota", "billing", "quota", "credit balance")
_CONTENT_MARKERS = ("content_filter", "content_policy", "content policy", "safety", "responsible ai")

# Status → kind where the body does not refine it.
_BY_STATUS: dict[int, Kind] = {
    400: Kind.INVALID_REQUEST,
    401: Kind.AUTH,
    403: Kind.AUTH,
    404: Kind.INVALID_REQUEST,
    408: Kind.TIMEOUT,
    409: Kind.SERVER_ERROR,
    413: Kind.CONTEXT_LENGTH,
    422: Kind.INVALID_REQUEST,
    429: Kind.RATE_LIMITED,
    500: Kind.SERVER_ERROR,
    502: Kind.SERVER_ERROR,
    503: Kind.OVERLOADED,
    504: Kind.SERVER_ERROR,
    529: Kind.OVERLOADED,
}


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta or HTTP date) or ``retry-after-ms``; None if absent/bad."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time() if now is None else now))


def _error_text(body: bytes) -> str:
    """The upstream's error code/type/message, lower-cased, for marker matching (never shown)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:2000].decode("utf-8", "replace").lower()
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        parts = [str(err.get(k, "")) for k in ("code", "type", "message", "status")]
        return " ".join(parts).lower()
    return str(err).lower()


def classify_status(status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
    """Classify a non-2xx upstream answer. The message is generic on purpose: upstream bodies can
    echo URLs or key prefixes, so only the kind and status reach the caller."""
    text = _error_text(body)
    retry_after = parse_retry_after(headers)
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = Kind.SERVER_ERROR if status >= 500 else Kind.INVALID_REQUEST
    if status == 429 and any(m in text for m in _QUOTA_MARKERS):
        kind = Kind.QUOTA_EXCEEDED
    elif status in (400, 422) and any(m in text for m in _CONTEXT_MARKERS):
        kind = Kind.CONTEXT_LENGTH
    elif status in (400, 403) and any(m in text for m in _CONTENT_MARKERS):
        kind = Kind.CONTENT_FILTER
    elif status == 400 and "overloaded" in text:
        kind = Kind.OVERLOADED
    return ProviderError(kind, _MESSAGES[kind], upstream_status=status, retry_after=retry_after)


def classify_transport(exc: httpx.HTTPError) -> ProviderError:
    """Classify an exception raised by httpx before a full answer arrived."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(Kind.TIMEOUT, _MESSAGES[Kind.TIMEOUT])
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.DecodingError)):
        return ProviderError(Kind.BAD_RESPONSE, _MESSAGES[Kind.BAD_RESPONSE])
    # Connect errors and anything else at the transport level: the deployment is unreachable.
    return ProviderError(Kind.TIMEOUT, "The upstream provider could not be reached.")


def bad_response(detail: str = "") -> ProviderError:
    message = _MESSAGES[Kind.BAD_RESPONSE]
    return ProviderError(Kind.BAD_RESPONSE, f"{message} {detail}".strip())


_MESSAGES: dict[Kind, str] = {
    Kind.RATE_LIMITED: "The upstream provider rate-limited the request.",
    Kind.QUOTA_EXCEEDED: "The upstream provider's quota for this deployment is exhausted.",
    Kind.OVERLOADED: "The upstream provider is overloaded.",
    Kind.SERVER_ERROR: "The upstream provider failed with a server error.",
    Kind.TIMEOUT: "The upstream provider did not answer in time.",
    Kind.BAD_RESPONSE: "The upstream provider sent a malformed response.",
    Kind.AUTH: "The upstream provider rejected the gateway's credentials.",
    Kind.CONTEXT_LENGTH: "The request exceeds the model's context window.",
    Kind.CONTENT_FILTER: "The request was rejected by the provider's content policy.",
    Kind.INVALID_REQUEST: "The upstream provider rejected the request as invalid.",
}
