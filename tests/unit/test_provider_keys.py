from __future__ import annotations

from typing import Any

import pytest

from switchyard.config.routing import RoutingConfig
from switchyard.errors import Kind, ProviderError
from switchyard.keys.provider_keys import ProviderKeys

CONFIG = RoutingConfig.model_validate(
    {
        "providers": {
            "sm": {"kind": "openai", "api_key": {"secret": "switchyard/openai", "env": "OPENAI_API_KEY"}},
            "env": {"kind": "openai", "api_key": {"env": "OTHER_KEY"}},
            "none": {"kind": "openai_compatible", "base_url": "http://127.0.0.1:1/v1"},
        }
    }
)


class Reader:
    def __init__(self, value: Any = None, fail: bool = False) -> None:
        self.calls = 0
        self.value = value
        self.fail = fail

    def __call__(self, name: str, max_age: int) -> Any:
        self.calls += 1
        if self.fail:
            raise RuntimeError("unreachable")
        return self.value


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_secret_primary_is_read_once_within_max_age() -> None:
    reader, clock = Reader('{"primary": "sk-p", "backup": "sk-b"}'), Clock()
    keys = ProviderKeys(CONFIG, {}, max_age_s=300, read_secret=reader, clock=clock)
    assert await keys.get("sm") == "sk-p"
    assert await keys.get("sm", "backup") == "sk-b"
    assert reader.calls == 1
    clock.now = 301
    await keys.get("sm")
    assert reader.calls == 2


async def test_env_fallback_when_secret_unreadable_and_none_for_keyless() -> None:
    keys = ProviderKeys(
        CONFIG, {"OPENAI_API_KEY": "sk-env", "OTHER_KEY": "sk-o"}, read_secret=Reader(fail=True)
    )
    assert await keys.get("sm") == "sk-env"
    assert await keys.get("env") == "sk-o"
    assert await keys.get("none") is None


async def test_stale_secret_beats_none_when_secrets_manager_fails() -> None:
    reader, clock = Reader('{"primary": "sk-p"}'), Clock()
    keys = ProviderKeys(CONFIG, {}, max_age_s=10, read_secret=reader, clock=clock)
    assert await keys.get("sm") == "sk-p"
    reader.fail, clock.now = True, 100
    assert await keys.get("sm") == "sk-p"


async def test_missing_key_is_an_auth_failure_that_fails_over() -> None:
    keys = ProviderKeys(CONFIG, {}, read_secret=Reader(fail=True))
    with pytest.raises(ProviderError) as info:
        await keys.get("sm")
    assert info.value.kind is Kind.AUTH
