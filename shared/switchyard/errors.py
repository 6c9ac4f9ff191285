"""The one error taxonomy of Switchyard.

Every failure the gateway can meet is a :class:`SwitchyardError`; ``http/`` maps it to a response
in one exception handler and ``routing/`` reads :data:`POLICY` for its decisions::

    SwitchyardError                      (root: kind, status, message, retry_after)
    ├── ClientError                      the caller's fault or the caller's limits; never retried
    │   ├── AuthenticationError          401 missing / wrong key
    │   ├── PermissionDeniedError        403 key may not use this model / route
    │   ├── NotFoundError                404 unknown model or route
    │   ├── InvalidRequestError          400 malformed body, unsupported option
    │   ├── PayloadTooLargeError         413 body over the configured limit
    │   ├── UnsupportedMediaTypeError    415 a body that is not JSON (by its Content-Type)
    │   └── RateLimitError               429 the caller's own limit
    │       └── BudgetExceededError      429 a budget is spent (code budget_exceeded)
    ├── ProviderError                    one upstream attempt failed; ``kind`` is a row of POLICY
    └── GatewayError                     every candidate failed, or nothing could be tried
                                         (503/429/502/504, carries the last ProviderError)

``POLICY`` is the error table of DESIGN §3: for each provider outcome, the status a caller sees if
it is the final outcome, what the attempt loop does next, and whether it counts against the breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Provider outcomes (rows of the policy table) and client-side conditions."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"
    AUTH = "auth"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    INVALID_REQUEST = "invalid_request"
    # client-side and gateway-side conditions
    AUTHENTICATION = "authentication"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CLIENT_RATE_LIMITED = "client_rate_limited"
    BUDGET_EXCEEDED = "budget_exceeded"
    NO_DEPLOYMENT = "no_deployment"
    INTERNAL = "internal"


class Action(StrEnum):
    """What the attempt loop does after a failed attempt."""

    RETRY_AFTER = "retry_after"  # wait Retry-After (if it fits the deadline) then same deployment
    RETRY_ONCE = "retry_once"  # one retry with backoff, then next deployment
    NEXT = "next"  # next deployment
    NEXT_PARK = "next_park"  # next deployment, and keep this one out until its reset
    RETRY_BACKUP_KEY = "retry_backup_key"  # once with the backup key, then next deployment
    NEXT_LARGER_CONTEXT = "next_larger_context"  # only deployments with a larger context window
    STOP = "stop"  # give the error to the caller


@dataclass(frozen=True, slots=True)
class Policy:
    status: int  # what the caller sees when this is the final outcome
    action: Action
    trips_breaker: bool
    error_type: str  # OpenAI error "type"


POLICY: dict[Kind, Policy] = {
    Kind.RATE_LIMITED: Policy(429, Action.RETRY_AFTER, False, "rate_limit_error"),
    Kind.QUOTA_EXCEEDED: Policy(429, Action.NEXT_PARK, False, "insufficient_quota"),
    Kind.OVERLOADED: Policy(503, Action.NEXT, True, "overloaded_error"),
    Kind.SERVER_ERROR: Policy(502, Action.RETRY_ONCE, True, "api_error"),
    Kind.TIMEOUT: Policy(504, Action.NEXT, True, "timeout_error"),
    Kind.BAD_RESPONSE: Policy(502, Action.NEXT, True, "api_error"),
    Kind.AUTH: Policy(502, Action.RETRY_BACKUP_KEY, False, "api_error"),
    Kind.CONTEXT_LENGTH: Policy(400, Action.NEXT_LARGER_CONTEXT, False, "invalid_request_error"),
    Kind.CONTENT_FILTER: Policy(400, Action.STOP, False, "invalid_request_error"),
    Kind.INVALID_REQUEST: Policy(400, Action.STOP, False, "invalid_request_error"),
    Kind.AUTHENTICATION: Policy(401, Action.STOP, False, "authentication_error"),
    Kind.PERMISSION_DENIED: Policy(403, Action.STOP, False, "permission_error"),
    Kind.NOT_FOUND: Policy(404, Action.STOP, False, "not_found_error"),
    Kind.PAYLOAD_TOO_LARGE: Policy(413, Action.STOP, False, "invalid_request_error"),
    Kind.UNSUPPORTED_MEDIA_TYPE: Policy(415, Action.STOP, False, "invalid_request_error"),
    Kind.CLIENT_RATE_LIMITED: Policy(429, Action.STOP, False, "rate_limit_error"),
    Kind.BUDGET_EXCEEDED: Policy(429, Action.STOP, False, "rate_limit_error"),
    Kind.NO_DEPLOYMENT: Policy(503, Action.STOP, False, "service_unavailable"),
    Kind.INTERNAL: Policy(500, Action.STOP, False, "api_error"),
}

# Caller-visible error codes for provider kinds whose OpenAI code differs from the kind's name.
CODES: dict[Kind, str] = {
    Kind.CONTEXT_LENGTH: "context_length_exceeded",
    Kind.QUOTA_EXCEEDED: "insufficient_quota",
    Kind.CLIENT_RATE_LIMITED: "rate_limit_exceeded",
    Kind.AUTHENTICATION: "invalid_api_key",
    Kind.NOT_FOUND: "model_not_found",
}


class SwitchyardError(Exception):
    """Root of every error the gateway raises on purpose. ``message`` is safe to show a caller."""

    kind: Kind = Kind.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        kind: Kind | None = None,
        retry_after: float | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.retry_after = retry_after
        self.param = param
        self.code = code or CODES.get(self.kind, self.kind.value)
        self.headers = headers or {}

    @property
    def policy(self) -> Policy:
        return POLICY[self.kind]

    @property
    def status(self) -> int:
        return self.policy.status


class ClientError(SwitchyardError):
    """The request cannot be served as sent; retrying it unchanged will not help."""


class AuthenticationError(ClientError):
    kind = Kind.AUTHENTICATION


class PermissionDeniedError(ClientError):
    kind = Kind.PERMISSION_DENIED


class NotFoundError(ClientError):
    kind = Kind.NOT_FOUND


class InvalidRequestError(ClientError):
    kind = Kind.INVALID_REQUEST


class PayloadTooLargeError(ClientError):
    kind = Kind.PAYLOAD_TOO_LARGE


class UnsupportedMediaTypeError(ClientError):
    kind = Kind.UNSUPPORTED_MEDIA_TYPE


class RateLimitError(ClientError):
    kind = Kind.CLIENT_RATE_LIMITED


class BudgetExceededError(RateLimitError):
    """A budget of the key, its tenant or the gateway is spent for the period (``Retry-After``:
    until the period ends)."""

    kind = Kind.BUDGET_EXCEEDED


class ProviderError(SwitchyardError):
    """One upstream attempt failed. ``kind`` must be a provider row of :data:`POLICY`.

    ``upstream_status`` is kept for logs and metrics; it is never shown to the caller together with
    anything that names the upstream URL or key.
    """

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, kind=kind, retry_after=retry_after)
        self.upstream_status = upstream_status


class GatewayError(SwitchyardError):
    """No candidate could answer. ``last`` is the final provider failure, if any was tried."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        last: ProviderError | None = None,
        code: str = "no_deployment_available",
    ) -> None:
        super().__init__(message, kind=Kind.NO_DEPLOYMENT, retry_after=retry_after, code=code)
        self._status = status
        self.last = last

    @property
    def status(self) -> int:
        return self._status


PROVIDER_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.RATE_LIMITED,
        Kind.QUOTA_EXCEEDED,
        Kind.OVERLOADED,
        Kind.SERVER_ERROR,
        Kind.TIMEOUT,
        Kind.BAD_RESPONSE,
        Kind.AUTH,
        Kind.CONTEXT_LENGTH,
        Kind.CONTENT_FILTER,
        Kind.INVALID_REQUEST,
    }
)
