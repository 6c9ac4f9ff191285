"""Rotation Lambda: Secrets Manager calls it for each step of a provider key secret's rotation
(createSecret, setSecret, testSecret, finishSecret); :mod:`switchyard.keys.secrets_rotation` does
the work. Clients are built once per cold start, on the first invocation, never at import."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchyard.config.settings import Settings
from switchyard.keys.secrets_rotation import Rotator, build_rotator
from switchyard.observability import logger

_rotator: Rotator | None = None


def _get() -> Rotator:
    global _rotator
    if _rotator is None:
        _rotator = build_rotator(Settings.from_env())
    return _rotator


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    # The event names the secret, the step and the version token; it never holds a key.
    logger.info("rotation step", extra={"step": event.get("Step"), "secret": event.get("SecretId")})
    _get().handle(event)
