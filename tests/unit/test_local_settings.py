"""``make run``'s settings: the master key and the request-signing master secret survive a
restart (kept under .switchyard/, owner-only), unless the environment gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from switchyard.config.local import LocalSettings
from switchyard.local.runtime import local_settings


def test_the_signing_master_secret_is_kept_across_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = local_settings(LocalSettings())
    again = local_settings(LocalSettings())
    assert first.signing_secret is not None and again.signing_secret is not None
    assert first.signing_secret.get_secret_value() == again.signing_secret.get_secret_value()
    stored = tmp_path / ".switchyard" / "signing-secret"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert first.master_key is not None and first.master_key.get_secret_value().startswith("sk-sy-local-")


def test_a_configured_secret_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = local_settings(LocalSettings(webhook_secret=SecretStr("w"), master_key=SecretStr("sk-sy-mine")))
    assert given.signing_secret is None and given.master_key == SecretStr("sk-sy-mine")
    assert not (tmp_path / ".switchyard" / "signing-secret").exists()
