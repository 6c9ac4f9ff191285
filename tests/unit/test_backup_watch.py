"""The rotation function's hourly check (switchyard.keys.backup_watch): a provider secret that holds
a key, rotates within the warning window and has no backup is reported and counted; one that is
ready, unused, not scheduled or not due yet is not; one that cannot be read counts. The secrets
client is a stand-in answering as boto3 does (describe_secret, get_secret_value)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from switchyard.config.settings import DEFAULT_CONFIG
from switchyard.keys.backup_watch import BackupGap, BackupWatch, watched_secrets
from switchyard.keys.secrets_rotation import configured_providers

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Secrets:
    """name -> (value, days until the next rotation or None for no schedule)."""

    def __init__(self, secrets: dict[str, tuple[dict[str, str], float | None]]) -> None:
        self.secrets = secrets

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        if SecretId not in self.secrets:
            raise RuntimeError("ResourceNotFoundException")
        _, days = self.secrets[SecretId]
        meta: dict[str, Any] = {"Name": SecretId, "RotationEnabled": days is not None}
        if days is not None:
            meta["NextRotationDate"] = NOW + timedelta(days=days)
        return meta

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        return {"SecretString": json.dumps(self.secrets[SecretId][0])}


def watch(secrets: Secrets, watched: dict[str, str]) -> tuple[BackupWatch, list[int]]:
    counts: list[int] = []
    return BackupWatch(secrets, watched, warn_days=7, emit=counts.append, now=lambda: NOW), counts


def test_only_a_key_in_use_due_soon_without_a_backup_is_a_gap() -> None:
    secrets = Secrets(
        {
            "sy/openai": ({"primary": "sk-a", "backup": ""}, 3.0),  # the gap
            "sy/anthropic": ({"primary": "sk-b", "backup": "sk-c"}, 3.0),  # ready
            "sy/gemini": ({"primary": "", "backup": ""}, 1.0),  # not in use
            "sy/xai": ({"primary": "sk-d", "backup": ""}, 20.0),  # not due yet
            "sy/groq": ({"primary": "sk-e"}, None),  # rotation off
        }
    )
    names = {"openai": "sy/openai", "anthropic": "sy/anthropic", "gemini": "sy/gemini", "xai": "sy/xai"}
    checker, counts = watch(secrets, {**names, "groq": "sy/groq"})
    assert checker.run() == [BackupGap("openai", "sy/openai", 3.0)]
    assert counts == [1]


def test_a_secret_that_cannot_be_read_counts_and_the_others_are_still_checked() -> None:
    secrets = Secrets({"sy/openai": ({"primary": "sk-a", "backup": ""}, 0.5)})
    checker, counts = watch(secrets, {"openai": "sy/openai", "perplexity": "sy/gone"})
    gaps = checker.run()
    assert [(g.provider, g.due_in_days) for g in gaps] == [("openai", 0.5), ("perplexity", None)]
    assert counts == [2]


def test_nothing_to_report_still_reports_zero() -> None:
    """The alarm goes back to OK on a datapoint of 0, not on silence."""
    checker, counts = watch(Secrets({}), {})
    assert checker.run() == [] and counts == [0]


def test_the_watched_secrets_are_those_the_template_passes_for_the_shipped_config() -> None:
    providers = configured_providers(DEFAULT_CONFIG)
    environment = {"SWITCHYARD_OPENAI_KEY_SECRET": "arn:openai", "SWITCHYARD_GROQ_KEY_SECRET": "arn:groq"}
    assert watched_secrets(providers, environment) == {"openai": "arn:openai", "groq": "arn:groq"}
