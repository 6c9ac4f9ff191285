"""Provider keys and the master key read from Secrets Manager (moto) through Powertools parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_base
from moto import mock_aws

from switchyard.compose.secrets import read_secret_key
from switchyard.config.routing import RoutingConfig
from switchyard.errors import Kind, ProviderError
from switchyard.keys.provider_keys import ProviderKeys

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsManagerClient]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Powertools keeps one provider (and its boto3 client) per process: never reuse one made
    # outside this moto context, or a call could leave the machine.
    powertools_base.DEFAULT_PROVIDERS.clear()
    with mock_aws():
        yield boto3.client("secretsmanager")
    powertools_base.DEFAULT_PROVIDERS.clear()


def config(secret: str) -> RoutingConfig:
    return RoutingConfig.model_validate(
        {"providers": {"openai": {"kind": "openai", "api_key": {"secret": secret, "env": "OPENAI_API_KEY"}}}}
    )


async def test_provider_key_comes_from_the_secret_and_backup_slot(secrets: SecretsManagerClient) -> None:
    arn = secrets.create_secret(
        Name="switchyard/openai", SecretString=json.dumps({"primary": "sk-primary", "backup": "sk-backup"})
    )["ARN"]
    keys = ProviderKeys(config(arn), {"OPENAI_API_KEY": "sk-env"}, max_age_s=300)
    assert await keys.get("openai") == "sk-primary"
    assert await keys.get("openai", "backup") == "sk-backup"


async def test_empty_placeholder_secret_falls_back_to_env_then_fails_over(
    secrets: SecretsManagerClient,
) -> None:
    # template.yaml creates provider secrets with empty slots until an operator fills them.
    arn = secrets.create_secret(Name="switchyard/empty", SecretString='{"primary": "", "backup": ""}')["ARN"]
    assert await ProviderKeys(config(arn), {"OPENAI_API_KEY": "sk-env"}).get("openai") == "sk-env"
    with pytest.raises(ProviderError) as info:
        await ProviderKeys(config(arn), {}).get("openai")
    assert info.value.kind is Kind.AUTH and "sk-" not in info.value.message


async def test_missing_secret_is_an_auth_failure_not_a_crash(secrets: SecretsManagerClient) -> None:
    with pytest.raises(ProviderError) as info:
        await ProviderKeys(config("switchyard/does-not-exist"), {}).get("openai")
    assert info.value.kind is Kind.AUTH


def test_master_key_from_the_generated_secret_shape(secrets: SecretsManagerClient) -> None:
    # CloudFormation's GenerateSecretString makes {"key": "<random>"}.
    secrets.create_secret(Name="switchyard/master", SecretString='{"key": "AbC123generated"}')
    assert read_secret_key("switchyard/master").get_secret_value() == "AbC123generated"
