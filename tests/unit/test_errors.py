"""The error policy table (errors.POLICY), row by row."""

from __future__ import annotations

import pytest

from switchyard.errors import (
    POLICY,
    PROVIDER_KINDS,
    Action,
    AuthenticationError,
    GatewayError,
    Kind,
    PayloadTooLargeError,
    ProviderError,
)


@pytest.mark.parametrize(
    ("kind", "action", "trips"),
    [
        (Kind.RATE_LIMITED, Action.RETRY_AFTER, False),
        (Kind.QUOTA_EXCEEDED, Action.NEXT_PARK, False),
        (Kind.OVERLOADED, Action.NEXT, True),
        (Kind.SERVER_ERROR, Action.RETRY_ONCE, True),
        (Kind.TIMEOUT, Action.NEXT, True),
        (Kind.BAD_RESPONSE, Action.NEXT, True),
        (Kind.AUTH, Action.RETRY_BACKUP_KEY, False),
        (Kind.CONTEXT_LENGTH, Action.NEXT_LARGER_CONTEXT, False),
        (Kind.MODEL_NOT_FOUND, Action.NEXT, False),
        (Kind.CONTENT_FILTER, Action.STOP, False),
        (Kind.INVALID_REQUEST, Action.STOP, False),
    ],
)
def test_policy_row(kind: Kind, action: Action, trips: bool) -> None:
    assert POLICY[kind].action is action
    assert POLICY[kind].trips_breaker is trips


def test_every_kind_has_a_policy_and_provider_kinds_are_rows() -> None:
    assert set(POLICY) == set(Kind)
    assert len(PROVIDER_KINDS) == 11


def test_client_visible_statuses_and_codes() -> None:
    assert AuthenticationError("x").status == 401
    assert PayloadTooLargeError("x").status == 413
    assert ProviderError(Kind.CONTEXT_LENGTH, "x").code == "context_length_exceeded"
    assert ProviderError(Kind.CONTEXT_LENGTH, "x").status == 400
    assert ProviderError(Kind.CONTENT_FILTER, "x").code == "content_filter"
    assert ProviderError(Kind.MODEL_NOT_FOUND, "x").code == "model_not_found"
    assert ProviderError(Kind.MODEL_NOT_FOUND, "x").status == 404
    assert GatewayError("x", status=429, retry_after=3).status == 429
