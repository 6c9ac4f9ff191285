"""The one error taxonomy of Switchyard.

Every failure the gateway can meet is a :class:`SwitchyardError`; ``http/`` maps it to a response
in one exception handler and ``routing/`` reads :data:`POLICY` for its decisions::

    SwitchyardError                      (root: kind, status, message, retry_after)
    ├── ClientError                      the caller's fault or the caller's limits; never retried
    │   ├── AuthenticationError          401 missing / wrong key
    │   │   └── SignatureError           401 a required request signature is missing or wrong
    │   ├── PermissionDeniedError        403 key may not use this model / route
    │   ├── NotFoundError                404 unknown model or route
    │   ├── InvalidRequestError          400 malformed body, unsupported option
    │   ├── ContentBlockedError          400 a guardrail policy blocked the request or answer
    │   ├── PayloadTooLargeError         413 body over the configured limit
    │   ├── UnsupportedMediaTypeError    415 a body that is not JSON (by its Content-Type)
    │   └── RateLimitError               429 the caller's own limit
    │       └── BudgetExceededError      429 a budget is spent (code budget_exceeded)
    ├── ProviderError                    one upstream attempt failed; ``kind`` is a row of POLICY
    ├── GatewayError                     every candidate failed, or nothing could be tried
    │                                    (503/429/502/504, carries the last ProviderError)
    └── InfrastructureError              a store the gateway runs on failed (503, detail logged only)
        ├── StateUnavailableError        DynamoDB unreachable, throttled, timed out
        │   └── StateThrottledError      ... refused for its throughput (a hot item)
        ├── QueueUnavailableError        SQS did not take a job
        └── ValueTooLargeError           a value larger than one item of its store

``POLICY`` is the one error table: for each kind, the status a caller sees if it is the final
outcome, what the attempt loop does next, whether it counts against the breaker, the OpenAI and
Anthropic error types, and whether a job that ends with it is tried again through the queue.
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
    MODEL_NOT_FOUND = "model_not_found"  # the upstream does not serve the deployment's model
    CONTENT_FILTER = "content_filter"
    INVALID_REQUEST = "invalid_request"
    # client-side and gateway-side conditions
    AUTHENTICATION = "authentication"
    INVALID_SIGNATURE = "invalid_signature"
    CONTENT_BLOCKED = "content_blocked"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CLIENT_RATE_LIMITED = "client_rate_limited"
    BUDGET_EXCEEDED = "budget_exceeded"
    NO_DEPLOYMENT = "no_deployment"
    UNAVAILABLE = "unavailable"  # shared state or the jobs queue could not be reached
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
    anthropic_type: str  # Anthropic error "type" (POST /v1/messages)
    # A job that ends with it goes back to the queue (to be tried again after the visibility
    # timeout, then to the DLQ): the condition passes. Otherwise the job fails for good.
    requeue: bool


_RATE, _OVERLOADED, _API, _INVALID = (
    "rate_limit_error",
    "overloaded_error",
    "api_error",
    "invalid_request_error",
)
_AUTHN, _PERM, _NOT_FOUND = "authentication_error", "permission_error", "not_found_error"
_NEXT_LARGER = Action.NEXT_LARGER_CONTEXT

POLICY: dict[Kind, Policy] = {
    # kind                   status  action               breaker  OpenAI type    Anthropic type  requeue
    Kind.RATE_LIMITED:        Policy(429, Action.RETRY_AFTER, False, _RATE, _RATE, True),
    Kind.QUOTA_EXCEEDED:      Policy(429, Action.NEXT_PARK, False, "insufficient_quota", _RATE, True),
    Kind.OVERLOADED:          Policy(503, Action.NEXT, True, _OVERLOADED, _OVERLOADED, True),
    Kind.SERVER_ERROR:        Policy(502, Action.RETRY_ONCE, True, _API, _API, True),
    Kind.TIMEOUT:             Policy(504, Action.NEXT, True, "timeout_error", _API, True),
    Kind.BAD_RESPONSE:        Policy(502, Action.NEXT, True, _API, _API, True),
    Kind.AUTH:                Policy(502, Action.RETRY_BACKUP_KEY, False, _API, _API, True),
    Kind.CONTEXT_LENGTH:      Policy(400, _NEXT_LARGER, False, _INVALID, _INVALID, False),
    # A deployment whose model its upstream does not know (retired, misspelt, not pulled): a
    # configuration problem of that deployment, not ill health, so the next one is tried.
    Kind.MODEL_NOT_FOUND:     Policy(404, Action.NEXT, False, _INVALID, _NOT_FOUND, False),
    Kind.CONTENT_FILTER:      Policy(400, Action.STOP, False, _INVALID, _INVALID, False),
    Kind.INVALID_REQUEST:     Policy(400, Action.STOP, False, _INVALID, _INVALID, False),
    Kind.AUTHENTICATION:      Policy(401, Action.STOP, False, _AUTHN, _AUTHN, False),
    Kind.INVALID_SIGNATURE:   Policy(401, Action.STOP, False, _AUTHN, _AUTHN, False),
    # A guardrail's verdict does not change on a retry: a job that ends with it fails for good.
    Kind.CONTENT_BLOCKED:     Policy(400, Action.STOP, False, _INVALID, _INVALID, False),
    Kind.PERMISSION_DENIED:   Policy(403, Action.STOP, False, _PERM, _PERM, False),
    Kind.NOT_FOUND:           Policy(404, Action.STOP, False, _NOT_FOUND, _NOT_FOUND, False),
    Kind.PAYLOAD_TOO_LARGE:   Policy(413, Action.STOP, False, _INVALID, "request_too_large", False),
    Kind.UNSUPPORTED_MEDIA_TYPE: Policy(415, Action.STOP, False, _INVALID, _INVALID, False),
    Kind.CLIENT_RATE_LIMITED: Policy(429, Action.STOP, False, _RATE, _RATE, True),
    # A spent budget stays spent until its period ends (hours): a job fails now, not via the DLQ.
    Kind.BUDGET_EXCEEDED:     Policy(429, Action.STOP, False, _RATE, _RATE, False),
    Kind.NO_DEPLOYMENT:       Policy(503, Action.STOP, False, "service_unavailable", _OVERLOADED, True),
    Kind.UNAVAILABLE:         Policy(503, Action.STOP, False, "service_unavailable", _OVERLOADED, True),
    Kind.INTERNAL:            Policy(500, Action.STOP, False, _API, _API, True),
}  # fmt: skip

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

    @property
    def anthropic_type(self) -> str:
        return self.policy.anthropic_type


class ClientError(SwitchyardError):
    """The request cannot be served as sent; retrying it unchanged will not help."""


class AuthenticationError(ClientError):
    kind = Kind.AUTHENTICATION


class SignatureError(AuthenticationError):
    """The key requires signed requests and this one's ``x-switchyard-signature`` is ``reason``:
    missing, malformed, expired (outside the window, either way), mismatch or replayed."""

    kind = Kind.INVALID_SIGNATURE

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(
            f"Invalid request signature ({reason}): {message}",
            code="invalid_signature",
            headers={"x-switchyard-signature-error": reason},
        )
        self.reason = reason


class PermissionDeniedError(ClientError):
    kind = Kind.PERMISSION_DENIED


class NotFoundError(ClientError):
    kind = Kind.NOT_FOUND


class InvalidRequestError(ClientError):
    kind = Kind.INVALID_REQUEST


class ContentBlockedError(ClientError):
    """A guardrail ``policy`` blocked the request (``stage`` "input") or the answer ("output") by
    its ``rule`` (``pii.email``, ``blocklist.word``, ``moderation.violence``, ...). The message
    names both, never the text that matched."""

    kind = Kind.CONTENT_BLOCKED

    def __init__(self, policy: str, rule: str, stage: str = "input") -> None:
        what = "request" if stage == "input" else "answer"
        super().__init__(
            f"The {what} was blocked by guardrail policy {policy!r} (rule {rule}).",
            code="content_blocked",
            headers={"x-switchyard-guardrails": f"blocked={policy}/{rule}"},
        )
        self.guardrail = policy
        self.rule = rule
        self.stage = stage


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

    @property
    def anthropic_type(self) -> str:
        # What the caller should do depends on why nothing answered, which the status says.
        return {429: _RATE, 504: _API}.get(self._status, _OVERLOADED)


class InfrastructureError(SwitchyardError):
    """A store the gateway runs on failed. The caller gets a generic message and a 503 to retry
    (a job goes back to the queue); ``detail`` (logged, never answered) says what failed."""

    kind = Kind.UNAVAILABLE
    public_message = "Shared state is unavailable; retry shortly."
    public_code = "state_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(self.public_message, retry_after=1.0, code=self.public_code)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class StateUnavailableError(InfrastructureError):
    """The backing store could not be reached (throttled, timed out, unreachable, misconfigured);
    callers that can degrade to local state do."""


class StateThrottledError(StateUnavailableError):
    """The store refused the call for its throughput (a hot item or an exhausted table): counted
    (``BudgetWritesThrottled``, ``LimitWritesThrottled``) and alarmed on, since the paths that
    degrade on it stop enforcing budgets or limits while it lasts."""


class QueueUnavailableError(InfrastructureError):
    """The queue could not take the messages (some may have been sent)."""

    public_message = "The jobs queue is unavailable; retry shortly."
    public_code = "queue_unavailable"


class ValueTooLargeError(InfrastructureError):
    """A value is larger than the store can hold in one item (``max_value_bytes``)."""


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
        Kind.MODEL_NOT_FOUND,
        Kind.CONTENT_FILTER,
        Kind.INVALID_REQUEST,
    }
)
