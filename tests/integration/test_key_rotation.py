"""Rotation of a provider key secret against Secrets Manager (the moto server on 127.0.0.1): the
four steps promote the backup, test it against the provider's models endpoint (an
httpx.MockTransport standing in for the provider) and emit `Provider Key Rotated`; a rejected key
fails testSecret and leaves AWSCURRENT where it was. The handler loads by path without side effects."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from switchyard.config.routing import ProviderConfig, RoutingConfig
from switchyard.events import KEY_ROTATED
from switchyard.keys.provider_keys import ProviderKeys
from switchyard.keys.secrets_rotation import PROVIDER_TAG, RotationError, Rotator, models_endpoint_test
from switchyard.local.aws import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {
    "openai": ProviderConfig(kind="openai", base_url="http://openai.test/v1"),
    "anthropic": ProviderConfig(kind="anthropic", base_url="http://anthropic.test"),
}


class Provider:
    """Answers the models endpoint 200 for the keys in ``valid``, 401 otherwise."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        return httpx.Response(200 if key in self.valid else 401, json={"data": []})


@pytest.fixture
def secrets(moto_endpoint: str) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS)


def make(secrets: Any, provider_name: str, value: dict[str, str]) -> str:
    arn: str = secrets.create_secret(
        Name=f"switchyard/{provider_name}-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps(value),
        Tags=[{"Key": PROVIDER_TAG, "Value": provider_name}],
    )["ARN"]
    return arn


def rotator(secrets: Any, provider: Provider) -> tuple[Rotator, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    client = httpx.Client(transport=httpx.MockTransport(provider))
    rot = Rotator(secrets, PROVIDERS, models_endpoint_test(client), lambda t, d: events.append((t, d)))
    return rot, events


def run_steps(rot: Rotator, arn: str, token: str, steps: list[str]) -> None:
    for step in steps:
        rot.handle({"Step": step, "SecretId": arn, "ClientRequestToken": token})


def stages(secrets: Any, arn: str) -> dict[str, list[str]]:
    # describe_secret, not get_secret_value: moto may return the old value after a stage move.
    found: dict[str, list[str]] = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return found


STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
def test_rotation_promotes_the_tested_backup_and_asks_for_a_new_one(secrets: Any, provider_name: str) -> None:
    arn = make(secrets, provider_name, {"primary": "key-old", "backup": "key-new"})
    provider = Provider({"key-new"})
    rot, events = rotator(secrets, provider)
    token = str(uuid.uuid4())
    run_steps(rot, arn, token, STEPS)
    run_steps(rot, arn, token, STEPS)  # Secrets Manager may repeat a step: nothing changes
    assert "AWSCURRENT" in stages(secrets, arn)[token]
    value = json.loads(secrets.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
    # The retired key is not the new backup: the router must not fail over to it.
    assert value == {"primary": "key-new", "backup": ""}
    assert provider.seen == ["/v1/models"]  # one test, during the first testSecret
    [(kind, detail)] = events
    assert kind == KEY_ROTATED and detail["provider"] == provider_name
    assert "key-" not in json.dumps(detail)  # never a key in an event


def test_a_rejected_backup_fails_the_test_step_and_keeps_awscurrent(secrets: Any) -> None:
    arn = make(secrets, "openai", {"primary": "key-old", "backup": "key-revoked"})
    before = next(v for v, s in stages(secrets, arn).items() if "AWSCURRENT" in s)
    rot, events = rotator(secrets, Provider({"key-old"}))
    token = str(uuid.uuid4())
    run_steps(rot, arn, token, ["createSecret", "setSecret"])
    with pytest.raises(RotationError, match="rejected"):
        run_steps(rot, arn, token, ["testSecret"])
    assert "AWSCURRENT" in stages(secrets, arn)[before]
    assert "AWSCURRENT" not in stages(secrets, arn)[token]
    assert events == []


def test_without_a_backup_there_is_nothing_to_promote(secrets: Any) -> None:
    arn = make(secrets, "openai", {"primary": "key-old", "backup": ""})
    rot, _ = rotator(secrets, Provider(set()))
    with pytest.raises(RotationError, match="no backup"):
        run_steps(rot, arn, str(uuid.uuid4()), ["createSecret"])


def test_the_handler_imports_without_side_effects() -> None:
    spec = importlib.util.spec_from_file_location("rotation_app", ROOT / "functions" / "rotation" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module._rotator is None


def test_after_a_rotation_the_router_has_no_backup_to_fail_over_to(secrets: Any) -> None:
    """The router's view of the rotated secret: the promoted key in use, and no backup until the
    operator puts one there (the retired key is only in the secret's AWSPREVIOUS version)."""
    arn = make(secrets, "openai", {"primary": "key-old", "backup": "key-new"})
    rot, _ = rotator(secrets, Provider({"key-new"}))
    run_steps(rot, arn, str(uuid.uuid4()), STEPS)
    config = RoutingConfig.model_validate(
        {"providers": {"openai": {"kind": "openai", "api_key": {"secret": arn}}}}
    )

    def read(secret: str, _max_age: int) -> str:
        # AWSCURRENT by its version id: moto may still answer the old version without one.
        (current,) = [v for v, s in stages(secrets, secret).items() if "AWSCURRENT" in s]
        value: str = secrets.get_secret_value(SecretId=secret, VersionId=current)["SecretString"]
        return value

    keys = ProviderKeys(config, {}, read_secret=read)
    assert asyncio.run(keys.get("openai")) == "key-new"
    assert asyncio.run(keys.backup("openai")) is None
    (previous,) = [v for v, s in stages(secrets, arn).items() if "AWSPREVIOUS" in s]
    retired = secrets.get_secret_value(SecretId=arn, VersionId=previous)["SecretString"]
    assert json.loads(retired)["primary"] == "key-old"


def test_a_secret_without_keys_rotates_as_a_no_op(secrets: Any) -> None:
    """The template makes a secret for every provider of the config; one nobody filled must not
    fail its schedule (and raise the rotation alarm) every KeyRotationDays."""
    arn = make(secrets, "gemini", {"primary": "", "backup": ""})
    provider = Provider(set())
    rot, events = rotator(secrets, provider)
    token = str(uuid.uuid4())
    run_steps(rot, arn, token, STEPS)
    assert "AWSCURRENT" in stages(secrets, arn)[token]
    value = json.loads(secrets.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
    assert value == {"primary": "", "backup": ""}
    assert provider.seen == [] and events == []
