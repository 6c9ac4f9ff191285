from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchyard.config.local import LocalSettings
from switchyard.config.routing import MOCK_STANDIN, RoutingConfig, load_routing_config
from switchyard.config.settings import DEFAULT_CONFIG


def test_shipped_default_without_keys_keeps_only_keyless_providers() -> None:
    config = load_routing_config(DEFAULT_CONFIG, {})
    assert set(config.providers) == {"mock", "mock-flaky"}
    assert set(config.models) == {"mock-1", "mock-failover"}
    assert config.wildcards == [] and config.aliases == {}


def test_shipped_default_with_a_key_enables_that_provider() -> None:
    config = load_routing_config(DEFAULT_CONFIG, {"OPENAI_API_KEY": "k"})
    assert "openai" in config.providers and "anthropic" not in config.providers
    assert config.models["gpt-4o-mini"].fallbacks == []  # claude fallback dropped with its provider
    assert config.aliases == {"fast": "gpt-4o-mini"}


def test_mock_standins_serve_unconfigured_models_locally() -> None:
    config = load_routing_config(DEFAULT_CONFIG, {}, mock_unconfigured=True)
    dep = config.models["gpt-4o-mini"].deployments[0]
    assert dep.provider == MOCK_STANDIN and dep.model == "gpt-4o-mini"
    assert config.models["gpt-4o-mini"].fallbacks == ["claude-haiku-4-5"]


def test_requires_env_and_expansion(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  ollama: {kind: openai_compatible, base_url: '${OLLAMA_BASE_URL}', "
        "requires_env: [OLLAMA_BASE_URL]}\n"
        "models:\n  llama: {deployments: [{provider: ollama, model: llama3}]}\n"
    )
    assert load_routing_config(path, {}).models == {}
    loaded = load_routing_config(path, {"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert loaded.providers["ollama"].base_url == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"providers": {}}, "at least one provider"),
        (
            {
                "providers": {"a": {"kind": "mock"}},
                "models": {"m": {"deployments": [{"provider": "z", "model": "x"}]}},
            },
            "unknown provider",
        ),
        ({"providers": {"a": {"kind": "mock"}}, "aliases": {"x": "nope"}}, "unknown model"),
        ({"providers": {"a": {"kind": "openai_compatible"}}}, "needs base_url"),
        ({"providers": {"a": {"kind": "telepathy"}}}, "kind"),
        ({"providers": {"a": {"kind": "mock", "colour": "red"}}}, "colour"),
    ],
)
def test_invalid_configs_are_refused_with_a_reason(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        RoutingConfig.model_validate(raw)


def test_settings_from_env() -> None:
    s = LocalSettings.from_env(
        {
            "SWITCHYARD_MASTER_KEY": "sk-sy-x",
            "SWITCHYARD_CONFIG": "/tmp/c.yaml",
            "SWITCHYARD_PORT": "9000",
            "OPENAI_API_KEY": "sk-test",
            "UNRELATED": "x",
        }
    )
    assert s.master_key is not None and s.master_key.get_secret_value() == "sk-sy-x"
    assert str(s.config_path) == "/tmp/c.yaml" and s.port == 9000
    assert s.environment["OPENAI_API_KEY"] == "sk-test" and s.environment["UNRELATED"] == "x"
    assert s.max_body_bytes == 6 * 1024 * 1024
    assert "sk-sy-x" not in repr(s) and "sk-test" not in repr(s)


def test_secret_env_names_the_secret_and_makes_the_provider_available() -> None:
    env = {"SWITCHYARD_OPENAI_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:1:secret:openai"}
    config = load_routing_config(DEFAULT_CONFIG, env)
    ref = config.providers["openai"].api_key
    assert ref is not None and ref.secret == env["SWITCHYARD_OPENAI_KEY_SECRET"]
    assert "gpt-4o-mini" in config.models and "anthropic" not in config.providers
