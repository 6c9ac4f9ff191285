"""Client authentication: the caller's key against the master key (virtual keys come later)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from switchyard.errors import AuthenticationError


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from ``Authorization: Bearer …`` or ``x-api-key`` (the Anthropic SDK's header)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None


class MasterKeyAuth:
    def __init__(self, master_key: SecretStr) -> None:
        self._expected = master_key.get_secret_value().encode()

    def check(self, key: str | None) -> None:
        """Raises AuthenticationError; the message never echoes what was presented."""
        if key is None:
            raise AuthenticationError(
                "Missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`.",
                code="missing_api_key",
            )
        if not hmac.compare_digest(key.encode(), self._expected):
            raise AuthenticationError("Invalid API key.")


def read_master_key(secret_name: str, read: Callable[[str], Any] | None = None) -> SecretStr:
    """The master key from a Secrets Manager secret (plain, or JSON with a ``key`` field)."""
    if read is None:
        from aws_lambda_powertools.utilities import parameters

        read = parameters.get_secret
    raw = read(secret_name)
    if isinstance(raw, bytes):
        raw = raw.decode()
    value = str(raw).strip()
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("key"), str):
        value = parsed["key"]
    if not value:
        raise ValueError("the master key secret is empty")
    return SecretStr(value)
