"""The CLI as a whole: every command's help has an example, failures are one line on stderr with
an exit code, the gateway and its key are found with nothing set, and what is printed (ISO 8601
times, money with every digit that counts)."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pytest

from switchyard.cli import build_parser, main
from switchyard.cli.admin_client import CliError, connection
from switchyard.cli.output import iso, usd, with_iso_times


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def _parser_of(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def test_every_command_help_has_an_example() -> None:
    commands = _commands(build_parser())
    assert ("keys", "update") in commands and ("provider-keys", "show-status") in commands
    assert len(commands) >= 20
    for path in commands:
        text = _parser_of(path).format_help()
        shown = " ".join(("switchyard", *path))
        assert shown in text.partition("\nexamples:\n")[2], f"`{shown} --help` has no example of itself"


def test_a_gateway_that_is_not_there_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 on loopback (discard) is closed here: the command must say so, not crash.
    assert main(["health", "--url", "http://127.0.0.1:9", "--timeout", "0.5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: cannot reach the gateway at http://127.0.0.1:9")
    assert "Traceback" not in captured.err
    assert main(["keys", "list", "--tenant", "a", "--url", "http://127.0.0.1:9", "--admin-key", "k"]) == 2
    assert "is it running?" in capsys.readouterr().err


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit):
        main([])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("SWITCHYARD_MASTER_KEY", "SWITCHYARD_URL", "SWITCHYARD_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"url": None, "key": None, "timeout": 10.0, **given})


def test_with_nothing_set_the_local_gateway_and_its_key_file_are_used(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".switchyard").mkdir()
    (clean_env / ".switchyard" / "master-key").write_text("sk-sy-local-abc\n")
    nested = clean_env / "src" / "app"
    nested.mkdir(parents=True)
    conn = connection(_args(), cwd=nested)  # found in a parent directory, as git finds .git
    assert (conn.url, conn.key) == ("http://127.0.0.1:8080", "sk-sy-local-abc")
    assert conn.source == str(clean_env / ".switchyard" / "master-key")
    monkeypatch.setenv("SWITCHYARD_PORT", "18099")
    assert connection(_args()).url == "http://127.0.0.1:18099"
    monkeypatch.setenv("SWITCHYARD_URL", "https://gw.example.com/prod/")
    monkeypatch.setenv("SWITCHYARD_MASTER_KEY", "from-env")
    conn = connection(_args())
    assert (conn.url, conn.key, conn.source) == (
        "https://gw.example.com/prod",
        "from-env",
        "SWITCHYARD_MASTER_KEY",
    )
    conn = connection(_args(url="http://127.0.0.1:1", key="flag", key_flag="--api-key"))
    assert (conn.url, conn.key, conn.source) == ("http://127.0.0.1:1", "flag", "--api-key")


def test_no_key_anywhere_says_where_it_looked(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CliError) as raised:
        connection(_args())
    assert raised.value.code == 2
    assert "no key: pass --admin-key, set SWITCHYARD_MASTER_KEY" in raised.value.message
    assert str(clean_env) in raised.value.message
    # Nothing is sent: before, an empty bearer made httpx fail with LocalProtocolError.
    assert main(["keys", "list", "--tenant", "acme", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no key" in err and "LocalProtocolError" not in err


def test_money_keeps_every_digit_that_counts() -> None:
    assert usd("0.00001") == "0.00001"
    assert usd(Decimal("0.0000034")) == "0.0000034"
    assert usd("5") == "5.00" and usd("12.5") == "12.50" and usd("100.000000") == "100.00"
    assert usd("0.0000000000000001") == "<0.000000000001"  # never 0.00 for money spent
    assert usd("44.285714", significant=3) == "44.29" and usd("0.00031415", significant=3) == "0.000314"
    assert usd(None) == "-"


def test_times_are_iso_8601_in_utc() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1800000000.5) == "2027-01-15T08:00:00.500Z"
    assert iso(None) == "-"
    shown = with_iso_times({"created_at": 0, "data": [{"expires_at": None, "until": 60.0, "n": 5}]})
    assert shown == {
        "created_at": "1970-01-01T00:00:00Z",
        "data": [{"expires_at": None, "until": "1970-01-01T00:01:00Z", "n": 5}],
    }
    assert json.dumps(shown)
