"""Provider key secrets that will rotate without a backup to promote (docs/keys.md).

A rotation promotes the secret's backup key; without one it fails on the day of the schedule, and
the provider keeps the key the operator meant to retire. The rotation function runs this check
every hour (template.yaml: its ``BackupCheck`` schedule): a secret that holds a key in use, has
rotation on and is due within ``warn_days`` with an empty backup slot is logged (provider, secret
name, days left; never a key), and the count goes out as the ``ProviderKeysWithoutBackup`` metric,
whose alarm notifies the topic days before the rotation would fail. A secret that cannot be read
counts too (its rotation would fail as well); a secret without any key (a provider not in use) is
not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from switchyard.config.routing import ProviderConfig
from switchyard.keys.provider_keys import parse_key_secret
from switchyard.observability import logger

Emit = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class BackupGap:
    provider: str
    secret: str  # the secret's name
    due_in_days: float | None  # None: the secret could not be read


def watched_secrets(
    providers: Mapping[str, ProviderConfig], environment: Mapping[str, str]
) -> dict[str, str]:
    """Provider name -> the secret (name or ARN) its key comes from: named in the routing config,
    or in the environment variable the config names (template.yaml sets one per provider)."""
    found = {}
    for name, provider in providers.items():
        ref = provider.api_key
        secret = ref and (ref.secret or (environment.get(ref.secret_env) if ref.secret_env else None))
        if secret:
            found[name] = secret
    return found


class BackupWatch:
    def __init__(
        self,
        secrets: Any,
        watched: Mapping[str, str],
        *,
        warn_days: float,
        emit: Emit,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._secrets = secrets  # a boto3 secretsmanager client
        self._watched = dict(watched)
        self._warn_days = warn_days
        self._emit = emit
        self._now = now

    def run(self) -> list[BackupGap]:
        """Check every watched secret; emit the count of gaps; return them. Never raises."""
        gaps = []
        for provider, secret_id in sorted(self._watched.items()):
            try:
                gap = self._gap(provider, secret_id)
            except Exception:  # any SDK failure: this secret's rotation would fail too
                logger.exception("provider key secret not readable", extra={"provider": provider})
                gap = BackupGap(provider, secret_id, None)
            if gap is not None:
                logger.warning("provider key secret has no backup before its rotation", extra=asdict(gap))
                gaps.append(gap)
        self._emit(len(gaps))
        return gaps

    def _gap(self, provider: str, secret_id: str) -> BackupGap | None:
        meta = self._secrets.describe_secret(SecretId=secret_id)
        due = meta.get("NextRotationDate")
        if not meta.get("RotationEnabled") or not isinstance(due, datetime):
            return None  # no schedule: nothing will fail
        days = (due - self._now()).total_seconds() / 86400
        if days > self._warn_days:
            return None
        value = parse_key_secret(self._secrets.get_secret_value(SecretId=secret_id).get("SecretString"))
        if not value.get("primary") or value.get("backup"):
            return None  # not in use, or ready to rotate
        return BackupGap(provider, str(meta.get("Name") or secret_id), round(max(days, 0.0), 1))
