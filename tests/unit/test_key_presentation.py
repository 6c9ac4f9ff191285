"""Where a caller's key is read from, and how a key kept in a secret is read."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from switchyard.compose.secrets import read_secret_key
from switchyard.http.deps import presented_key, request_headers
from switchyard.keys.master_key import key_from_secret


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "expected"),
    [
        ("Bearer sk-1", None, "sk-1"),
        ("bearer   sk-1 ", None, "sk-1"),
        (None, "sk-2", "sk-2"),
        ("Basic abc", "sk-2", "sk-2"),
        ("Bearer ", None, None),
        (None, None, None),
    ],
)
def test_presented_key(authorization: str | None, x_api_key: str | None, expected: str | None) -> None:
    assert presented_key(authorization, x_api_key) == expected


@pytest.mark.parametrize("raw", ['{"key": "sk-sy-abc"}', "sk-sy-abc", b"sk-sy-abc\n"])
def test_a_key_in_a_secret_is_plain_or_json(raw: str | bytes) -> None:
    assert key_from_secret(raw).get_secret_value() == "sk-sy-abc"
    assert read_secret_key("name", fetch=lambda _n: raw).get_secret_value() == "sk-sy-abc"


@pytest.mark.parametrize("raw", ["", "  ", '{"key": ""}'])
def test_an_empty_secret_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        key_from_secret(raw)


def test_request_headers_are_read_once_and_keep_a_repeated_names_first_value() -> None:
    raw = [(b"authorization", b"Bearer sk"), (b"cache-control", b"no-store"), (b"cache-control", b"max-age")]
    request = Request({"type": "http", "headers": raw})
    headers = request_headers(request)
    assert headers == {"authorization": "Bearer sk", "cache-control": "no-store"}
    assert headers["cache-control"] == request.headers.get("cache-control")  # as Starlette reads it
    assert request_headers(request) is headers  # one dict a request, shared by the key check and the stages
