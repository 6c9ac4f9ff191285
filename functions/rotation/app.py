"""Rotation Lambda: Secrets Manager calls it for each step of a provider key secret's rotation
(createSecret, setSecret, testSecret, finishSecret); :mod:`switchyard.keys.secrets_rotation` does
the work. Every hour its schedule sends ``{"switchyard": "check-backups"}`` instead, and
:mod:`switchyard.keys.backup_watch` reports the secrets due to rotate without a backup. Clients are
built once per cold start, on the first invocation, never at import."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchyard.compose import open_backup_watch, open_rotator
from switchyard.config.settings import RotationSettings
from switchyard.keys.backup_watch import BackupWatch
from switchyard.keys.secrets_rotation import Rotator
from switchyard.observability import logger

CHECK_BACKUPS = {"switchyard": "check-backups"}  # the schedule's input (template.yaml)

_rotator: Rotator | None = None
_watch: BackupWatch | None = None


def _get() -> Rotator:
    global _rotator
    if _rotator is None:
        _rotator = open_rotator(RotationSettings.from_env())
    return _rotator


def _get_watch() -> BackupWatch:
    global _watch
    if _watch is None:
        _watch = open_backup_watch(RotationSettings.from_env())
    return _watch


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event == CHECK_BACKUPS:
        return {"without_backup": [gap.provider for gap in _get_watch().run()]}
    # The event names the secret, the step and the version token; it never holds a key.
    logger.info("rotation step", extra={"step": event.get("Step"), "secret": event.get("SecretId")})
    _get().handle(event)
    return None
