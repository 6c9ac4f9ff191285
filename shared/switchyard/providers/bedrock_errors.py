"""Bedrock's failures in the error taxonomy.

Bedrock names the failure in the ``x-amzn-ErrorType`` header (``ThrottlingException:<namespace>``)
and in a stream's exception events (``:exception-type: throttlingException``), with a JSON body
``{"message": ...}``. Each name stands for the HTTP status of the row of the error table it
belongs to, and the usual classification (``classify_status``) does the rest: throttling is a rate
limit, an exceeded service quota a quota (its message says "quota"), a model not ready or the
service unavailable is overload, a validation error about the input's length is a context-length
error, other validation errors are the caller's, access and signature errors are auth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from switchyard.errors import ProviderError
from switchyard.providers.classify import classify_status

# Exception name (lower case) → the status of its row of the error table.
_AS_STATUS: dict[str, int] = {
    "throttlingexception": 429,
    "servicequotaexceededexception": 429,
    "modelnotreadyexception": 503,
    "serviceunavailableexception": 503,
    "internalserverexception": 500,
    "modelerrorexception": 502,
    "modelstreamerrorexception": 502,
    "modeltimeoutexception": 408,
    "validationexception": 400,
    "accessdeniedexception": 403,
    "unrecognizedclientexception": 401,
    "invalidsignatureexception": 403,
    "expiredtokenexception": 401,
    "resourcenotfoundexception": 404,
}


def classify_bedrock(status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
    """A non-2xx Converse answer as a ProviderError (``upstream_status`` stays Bedrock's)."""
    name = headers.get("x-amzn-errortype", "").partition(":")[0]
    if not name:
        name = _body_type(body)
    error = _classified(name, _message(body), status, headers)
    return ProviderError(error.kind, error.message, upstream_status=status, retry_after=error.retry_after)


def classify_exception(name: str, payload: bytes) -> ProviderError:
    """An exception event inside a ConverseStream."""
    return _classified(name, _message(payload), 500, {})


def _classified(name: str, message: str, status: int, headers: Mapping[str, str]) -> ProviderError:
    as_status = _AS_STATUS.get(name.lower(), status if status >= 400 else 500)
    body = json.dumps({"error": {"type": name, "message": message}}).encode()
    return classify_status(as_status, body, headers)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    message = data.get("message", data.get("Message"))
    return message if isinstance(message, str) else ""


def _body_type(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    kind = data.get("__type") if isinstance(data, dict) else None
    return kind.rpartition("#")[2] if isinstance(kind, str) else ""
