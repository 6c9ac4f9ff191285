"""The shipped routing config's entries for one provider, pointed at the fake upstream.

Only the scheme and host of the provider's URL change (to ``/<name>`` on the fake): the path, the
headers, the key variables, the ``${VAR}`` references and the models and wildcards that use the
provider stay as shipped, so a test exercises the entry a user gets.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from fakes import FakeUpstream
from fakes.upstream import FAST_RETRY, QUIET_BREAKER
from switchyard.config.settings import DEFAULT_CONFIG

_ORIGIN = re.compile(r"^https://[^/$]+")


def shipped() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    return config


def shipped_provider(fake: FakeUpstream, name: str) -> dict[str, Any]:
    """A routing config with the shipped ``providers[name]`` (its URL's origin swapped for the
    fake's ``/<name>``), and the shipped models and wildcards that route to it."""
    config = shipped()
    provider = dict(config["providers"][name])
    if "base_url" in provider and provider["base_url"].startswith("https://"):
        provider["base_url"] = _ORIGIN.sub(fake.url(name), provider["base_url"])
    models = {
        model: route
        for model, route in config["models"].items()
        if all(d["provider"] == name for d in route["deployments"])
    }
    return {
        "version": 1,
        "providers": {name: provider},
        "models": models,
        "wildcards": [w for w in config["wildcards"] if w["provider"] == name],
        "retry": FAST_RETRY,
        "breaker": QUIET_BREAKER,
    }
