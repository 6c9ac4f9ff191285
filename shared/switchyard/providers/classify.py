"""One mapping from an upstream HTTP failure to a :class:`ProviderError` kind (errors.POLICY)."""

from __future__ import annotations

import json
import re
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
    "context window",  # Cloudflare Workers AI: "... exceeded this model context window limit"
    "context limit",  # Bedrock: "input length and `max_tokens` exceed context limit"
    "too many input tokens",  # Bedrock
    "input tokens exceed",  # Bedrock (Nova): "Input Tokens Exceeded"
)
_QUOTA_MARKERS = ("insufficient_quota", "billing", "quota", "credit balance")
_CONTENT_MARKERS = (
    "content_filter",
    "content_policy",
    "content policy",
    "safety",
    "responsible ai",
    "responsibleaipolicy",
)
# Anthropic answers an empty prepaid balance with a 400, not a 429.
_CREDIT_MARKERS = ("credit balance",)

# Kinds the caller can fix by changing the request: the upstream's own words help them do it.
_DETAILED = frozenset({Kind.INVALID_REQUEST, Kind.CONTEXT_LENGTH, Kind.CONTENT_FILTER, Kind.MODEL_NOT_FOUND})
_DETAIL_MAX = 300
# Upstream messages can echo endpoints and credentials; these go before any text reaches a caller.
_SCRUB: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:https?|wss?)://\S+", re.IGNORECASE), "[url]"),
    (re.compile(r"\bBearer\s+\S+", re.IGNORECASE), "Bearer [redacted]"),
    (
        re.compile(r"(x-api-key|api[-_]key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+", re.IGNORECASE),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\b(?:sk|gsk|xai|pplx)[-_][\w*.-]{6,}"), "[redacted]"),
    (re.compile(r"\bAIza[\w-]{10,}"), "[redacted]"),
    (
        re.compile(
            r"\b(?:[a-z0-9-]+\.)+(?:com|ai|net|org|io|dev|cloud|app)(?::\d+)?(?:/\S*)?", re.IGNORECASE
        ),
        "[host]",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/\S*)?"), "[host]"),
    # Long opaque tokens (keys of providers not named above).
    (re.compile(r"\b[\w-]{32,}"), "[redacted]"),
)

# Status → kind where the body does not refine it.
_BY_STATUS: dict[int, Kind] = {
    400: Kind.INVALID_REQUEST,
    401: Kind.AUTH,
    402: Kind.QUOTA_EXCEEDED,
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


def _error_fields(body: bytes) -> tuple[str, str]:
    """The upstream's error code/type/message lower-cased for marker matching, and its message."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:2000].decode("utf-8", "replace").lower(), ""
    if isinstance(data, list) and data:  # Gemini's OpenAI endpoint wraps the error in a list
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        data = data["errors"][0]  # Cloudflare's API envelope: {"errors": [{"code", "message"}]}
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        parts = [str(err.get(k, "")) for k in ("code", "type", "message", "status")]
        message = err.get("message")
        return " ".join(parts).lower(), message if isinstance(message, str) else ""
    return str(err).lower(), ""


def scrub(text: str) -> str:
    """``text`` without URLs, hosts and anything shaped like a credential, cut to ~300 chars."""
    text = text[: _DETAIL_MAX * 8]
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def classify_status(status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
    """Classify a non-2xx upstream answer. The message is generic, except that for kinds the caller
    can fix (:data:`_DETAILED`) the upstream's own message is appended, scrubbed of URLs and keys."""
    text, upstream_message = _error_fields(body)
    retry_after = parse_retry_after(headers)
    kind = _refine(status, text)
    message = _MESSAGES[kind]
    if kind in _DETAILED and upstream_message:
        message = f"{message} Upstream message: {scrub(upstream_message)}"
    return ProviderError(kind, message, upstream_status=status, retry_after=retry_after)


def _refine(status: int, text: str) -> Kind:
    """The status's row of :data:`_BY_STATUS`, refined by what the body says."""
    if _model_not_found(status, text):
        return Kind.MODEL_NOT_FOUND
    if status == 429 and any(m in text for m in _QUOTA_MARKERS):
        return Kind.QUOTA_EXCEEDED
    if status == 400 and any(m in text for m in _CREDIT_MARKERS):
        return Kind.QUOTA_EXCEEDED
    if status in (400, 422) and any(m in text for m in _CONTEXT_MARKERS):
        return Kind.CONTEXT_LENGTH
    if status in (400, 403) and any(m in text for m in _CONTENT_MARKERS):
        return Kind.CONTENT_FILTER
    if status == 400 and "overloaded" in text:
        return Kind.OVERLOADED
    return _BY_STATUS.get(status) or (Kind.SERVER_ERROR if status >= 500 else Kind.INVALID_REQUEST)


def _model_not_found(status: int, text: str) -> bool:
    """A 404 that names a model (OpenAI's ``model_not_found``, Anthropic's ``not_found_error``
    "model: …", Gemini's "models/… is not found", Ollama's "model … not found"), or a 400 coded
    ``model_not_found``. A 404 that names none is a wrong route (a base URL's path), which no
    other deployment of the same provider would fix: it stays ``invalid_request``."""
    if status == 404:
        return "model" in text
    return status == 400 and "model_not_found" in text


def classify_transport(exc: httpx.HTTPError) -> ProviderError:
    """Classify an exception raised by httpx before a full answer arrived."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(Kind.TIMEOUT, _MESSAGES[Kind.TIMEOUT])
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.DecodingError)):
        return ProviderError(Kind.BAD_RESPONSE, _MESSAGES[Kind.BAD_RESPONSE])
    # Connect errors and anything else at the transport level: the deployment is unreachable.
    return ProviderError(Kind.TIMEOUT, "The upstream provider could not be reached.")


# Error types an upstream names in an error event inside a 200 stream, as the HTTP status the same
# failure would have had before the stream began (Anthropic's and OpenAI's names).
_STREAM_ERROR_STATUS: dict[str, int] = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "requests": 429,
    "tokens": 429,
    "insufficient_quota": 429,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "invalid_request_error": 400,
    "timeout_error": 504,
}


def classify_stream_error(payload: bytes) -> ProviderError:
    """Classify an error event received inside a 2xx stream (Anthropic ``event: error``, or an
    OpenAI-dialect ``data: {"error": ...}``): as the status its error type stands for, else 500."""
    status = 500
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        for key in ("type", "code"):
            value = err.get(key)
            if isinstance(value, str) and value in _STREAM_ERROR_STATUS:
                status = _STREAM_ERROR_STATUS[value]
                break
    return classify_status(status, payload, {})


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
    Kind.MODEL_NOT_FOUND: "The upstream provider does not serve the requested model.",
    Kind.CONTENT_FILTER: "The request was rejected by the provider's content policy.",
    Kind.INVALID_REQUEST: "The upstream provider rejected the request as invalid.",
}
