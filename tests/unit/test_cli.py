from __future__ import annotations

import pytest

from switchyard.cli import build_parser, main


def test_every_group_registers_and_health_reports_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    assert "health" in build_parser().format_help()
    # Port 9 on loopback (discard) is closed here: the command must say so, not crash.
    assert main(["health", "--url", "http://127.0.0.1:9", "--timeout", "0.5"]) == 2
    assert "unreachable" in capsys.readouterr().out


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit):
        main([])
