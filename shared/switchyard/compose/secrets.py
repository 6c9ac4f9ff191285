"""Keys kept in Secrets Manager (the master key, the webhook and request signing secrets), read through
Powertools parameters: the one place that chooses between a key given in the settings and one
read from its secret."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from time import monotonic
from typing import Any

from pydantic import SecretStr

from switchyard.config.settings import GatewaySettings
from switchyard.keys.master_key import MasterKey, key_from_secret
from switchyard.observability import logger


def read_secret_key(name: str, *, fetch: Callable[[str], Any] | None = None) -> SecretStr:
    """The key in the secret ``name`` (plain, or JSON with a ``key`` field), read now, past
    Powertools' own cache. Raises ValueError when it is empty, and what the SDK raises."""
    return key_from_secret((fetch or _fetch)(name))


def _fetch(name: str) -> Any:
    from aws_lambda_powertools.utilities import parameters

    # Past Powertools' own cache: the caller's TTL is what bounds a key's age.
    return parameters.get_secret(name, force_fetch=True)


async def open_master_key(settings: GatewaySettings, *, clock: Callable[[], float] = monotonic) -> MasterKey:
    """The settings' master key: given, or read from its secret (then re-read every
    ``master_key_ttl_s``). Raises ValueError when there is none, or the secret is empty."""
    if settings.master_key is not None:
        return MasterKey(settings.master_key, clock=clock)
    name = settings.master_key_secret
    if not name:
        raise ValueError("no master key: set SWITCHYARD_MASTER_KEY or SWITCHYARD_MASTER_KEY_SECRET")

    def read() -> SecretStr:
        return read_secret_key(name)

    return MasterKey(await asyncio.to_thread(read), read=read, ttl_s=settings.master_key_ttl_s, clock=clock)


async def open_webhook_secret(settings: GatewaySettings) -> SecretStr | None:
    """The master secret webhook signing secrets are derived from: given, or read from its secret
    once per cold start; None when neither is configured."""
    if settings.webhook_secret is not None or not settings.webhook_secret_name:
        return settings.webhook_secret
    return await asyncio.to_thread(read_secret_key, settings.webhook_secret_name)


async def signing_master(settings: GatewaySettings) -> bytes:
    """The master secret keys' request-signing secrets derive from: the signing secret, else the
    webhook master secret (each read from Secrets Manager once per cold start when only its name
    is set), else a random one for this process — nothing signed survives a restart, fine for
    tests and ``make run``, and refused in Lambda (ValueError), where a secret set through one
    instance would not verify on the next."""
    for value, name in (
        (settings.signing_secret, settings.signing_secret_name),
        (settings.webhook_secret, settings.webhook_secret_name),
    ):
        if value is None and name:
            value = await asyncio.to_thread(read_secret_key, name)
        if value is not None:
            return value.get_secret_value().encode()
    if settings.lambda_function_name:
        raise ValueError(
            "no request signing master secret for the Lambda function "
            f"{settings.lambda_function_name}: set SWITCHYARD_SIGNING_SECRET_NAME"
        )
    logger.info("no signing master secret: request signing secrets last only as long as this process")
    return secrets.token_bytes(32)
