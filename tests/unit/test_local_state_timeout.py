"""The local runtime's emulated state: a timeout sized for the emulator unless one is set."""

from __future__ import annotations

from switchyard.config.local import LocalSettings
from switchyard.local.aws import LOCAL_STATE_TIMEOUT_S, emulated_timeout


def test_the_emulated_state_gets_a_longer_timeout_unless_one_is_set() -> None:
    assert emulated_timeout(LocalSettings()) == LOCAL_STATE_TIMEOUT_S > LocalSettings().state_timeout_s
    assert emulated_timeout(LocalSettings(state_timeout_s=2.0)) == 2.0
    assert emulated_timeout(LocalSettings.from_env({"SWITCHYARD_STATE_TIMEOUT_S": "3"})) == 3.0
