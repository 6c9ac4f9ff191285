"""Talking to a gateway for the CLI: where it is, which key to present, one call at a time, and
errors that say what went wrong (no gateway there, no key, a key it refused).

With nothing set the CLI finds the gateway ``make run`` starts and the key it keeps: the URL is
``SWITCHYARD_URL``, else ``http://127.0.0.1:$SWITCHYARD_PORT`` (8080); the key is ``--admin-key``,
else ``SWITCHYARD_MASTER_KEY``, else ``.switchyard/master-key`` in this directory or a parent.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from switchyard.config.local import CliSettings

# Where ``make run`` keeps the master key it generated (switchyard.local.runtime), relative to
# the directory it ran in.
MASTER_KEY_FILE = Path(".switchyard", "master-key")


class CliError(Exception):
    """A failure to report in one line (no traceback), with the process's exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    key: str
    source: str  # where the key came from, for messages: a flag, a variable or a file
    timeout_s: float


def default_url(settings: CliSettings | None = None) -> str:
    settings = settings or CliSettings.from_env()
    return (settings.gateway_url or f"http://127.0.0.1:{settings.port}").rstrip("/")


def add_connection(parser: argparse.ArgumentParser, *, key_flag: str | None = "--admin-key") -> None:
    """``--url``, the key flag (None: the command needs no key), ``--timeout`` and ``--json``."""
    parser.add_argument(
        "--url", default=None, help="the gateway (default: SWITCHYARD_URL, else http://127.0.0.1:8080)"
    )
    if key_flag is not None:
        parser.add_argument(
            key_flag,
            dest="key",
            default=None,
            help="default: SWITCHYARD_MASTER_KEY, else .switchyard/master-key (make run keeps it there)",
        )
        parser.set_defaults(key_flag=key_flag)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default 10)")
    add_json(parser)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")


def connection(args: argparse.Namespace, *, cwd: Path | None = None) -> Connection:
    """The URL and key to use. Raises CliError when no key can be found."""
    settings = CliSettings.from_env()
    url = (args.url or default_url(settings)).rstrip("/")
    flag = getattr(args, "key_flag", None) or "--admin-key"
    key, source = _key(getattr(args, "key", None), flag, settings, cwd or Path.cwd())
    return Connection(url=url, key=key, source=source, timeout_s=args.timeout)


def _key(given: str | None, flag: str, settings: CliSettings, cwd: Path) -> tuple[str, str]:
    if given:
        return given, flag
    if settings.master_key is not None:
        return settings.master_key.get_secret_value(), "SWITCHYARD_MASTER_KEY"
    path = find_key_file(cwd)
    if path is not None:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key, str(path)
    raise CliError(
        f"no key: pass {flag}, set SWITCHYARD_MASTER_KEY, or run this where `make run` keeps "
        f"{MASTER_KEY_FILE} (looked in {cwd} and its parents)",
        code=2,
    )


def find_key_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / MASTER_KEY_FILE
        if candidate.is_file():
            return candidate
    return None


def open_client(conn: Connection) -> httpx.Client:
    headers = {"Authorization": f"Bearer {conn.key}"}
    return httpx.Client(base_url=conn.url, headers=headers, timeout=conn.timeout_s)


def send(client: httpx.Client, conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    """One call: its JSON answer (None for 204). Raises CliError saying why it failed."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.ConnectError as exc:
        raise CliError(
            f"cannot reach the gateway at {conn.url} ({exc or 'connection refused'}): is it running? "
            "`make run` starts one; --url or SWITCHYARD_URL points elsewhere",
            code=2,
        ) from exc
    except httpx.TimeoutException as exc:
        raise CliError(
            f"the gateway at {conn.url} did not answer within {conn.timeout_s:g} s (--timeout)", code=2
        ) from exc
    except httpx.HTTPError as exc:
        raise CliError(f"cannot talk to the gateway at {conn.url}: {type(exc).__name__}", code=2) from exc
    return checked(response, conn)


def checked(response: httpx.Response, conn: Connection) -> Any:
    if response.status_code < 400:
        return None if response.status_code == 204 else response.json()
    code, message = _error_of(response)
    if response.status_code == 401:
        raise CliError(
            f"the gateway at {conn.url} refused the key from {conn.source} ({message}); "
            "use that gateway's master key (`make run` prints it and keeps it in .switchyard/master-key)"
        )
    if code == "admin_key_required":
        raise CliError(
            f"the key from {conn.source} is a client key, not the master key of {conn.url}; "
            "this command needs the master key"
        )
    raise CliError(f"{response.status_code} {code or 'error'}: {message}")


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json()["error"]
        return error.get("code"), str(error["message"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.text[:200] or response.reason_phrase


def call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """One call with the connection ``args`` name; raises CliError."""
    conn = connection(args)
    with open_client(conn) as client:
        return send(client, conn, method, path, **kwargs)
