from __future__ import annotations

import pytest
from pydantic import SecretStr

from switchyard.errors import AuthenticationError
from switchyard.keys.client_auth import MasterKeyAuth, presented_key, read_master_key


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


def test_check_accepts_the_master_key_and_never_echoes_a_wrong_one() -> None:
    auth = MasterKeyAuth(SecretStr("sk-sy-right"))
    auth.check("sk-sy-right")
    with pytest.raises(AuthenticationError) as info:
        auth.check("sk-sy-wrong-guess")
    assert "sk-sy-wrong-guess" not in info.value.message and info.value.status == 401
    with pytest.raises(AuthenticationError) as missing:
        auth.check(None)
    assert missing.value.code == "missing_api_key"


@pytest.mark.parametrize("raw", ['{"key": "sk-sy-abc"}', "sk-sy-abc", b"sk-sy-abc\n"])
def test_read_master_key_plain_or_json(raw: str | bytes) -> None:
    assert read_master_key("name", read=lambda _n: raw).get_secret_value() == "sk-sy-abc"
