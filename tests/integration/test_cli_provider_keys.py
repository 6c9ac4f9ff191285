"""``switchyard provider-keys`` against Secrets Manager (the moto server on 127.0.0.1): ``set``
fills a slot from stdin and ``show-status`` reports slots, for a secret named by its ARN or name or
by its provider (every provider's by default); neither prints a key."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import boto3
import pytest

from switchyard.cli import main
from switchyard.cli.provider_keys import STACK_TAG
from switchyard.local.aws import CREDENTIALS


@pytest.fixture
def secret(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS
    )
    name = f"switchyard/openai-{uuid.uuid4().hex[:8]}"
    client.create_secret(Name=name, SecretString='{"primary": "sk-live-primary", "backup": ""}')
    return client, name


def test_set_fills_the_backup_slot_and_status_never_prints_keys(
    secret: tuple[Any, str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    client, name = secret
    common = ["--endpoint-url", moto_endpoint, "--region", "us-east-1"]
    assert main(["provider-keys", "show-status", name, *common]) == 0
    assert "backup: EMPTY" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-live-backup\n"))
    assert main(["provider-keys", "set", name, "--slot", "backup", *common]) == 0
    value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    assert value == {"primary": "sk-live-primary", "backup": "sk-live-backup"}
    assert main(["provider-keys", "show-status", name, *common]) == 0
    out = capsys.readouterr().out
    assert "primary: set  backup: set" in out
    assert "sk-live" not in out


@pytest.fixture
def stack_secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, dict[str, str]]:
    """Provider secrets as a stack leaves them (tagged with their provider and the stack), for a
    stack name of this test's own; and one other stack's OpenAI secret."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS
    )
    stack = f"sy-{uuid.uuid4().hex[:8]}"
    arns = {}
    for provider, value in (("openai", {"primary": "sk-live-openai", "backup": ""}), ("gemini", {})):
        arns[provider] = client.create_secret(
            Name=f"{stack}-{provider}",
            SecretString=json.dumps({"primary": "", "backup": "", **value}),
            Tags=[{"Key": "switchyard:provider", "Value": provider}, {"Key": STACK_TAG, "Value": stack}],
        )["ARN"]
    client.create_secret(
        Name=f"{stack}-other-openai",
        SecretString="{}",
        Tags=[
            {"Key": "switchyard:provider", "Value": "openai"},
            {"Key": STACK_TAG, "Value": f"{stack}-other"},
        ],
    )
    return client, stack, arns


def test_a_provider_is_named_instead_of_its_secret(
    stack_secrets: tuple[Any, str, dict[str, str]],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    client, stack, arns = stack_secrets
    common = ["--endpoint-url", moto_endpoint, "--region", "us-east-1", "--stack", stack]
    monkeypatch.setattr("sys.stdin", io.StringIO("AIza-live-gemini\n"))
    assert main(["provider-keys", "set", "gemini", "--slot", "primary", *common]) == 0
    value = json.loads(client.get_secret_value(SecretId=arns["gemini"])["SecretString"])
    assert value == {"primary": "AIza-live-gemini", "backup": ""}
    capsys.readouterr()
    # Every provider's secret of the stack, by default; never a key.
    assert main(["provider-keys", "show-status", *common]) == 0
    out = capsys.readouterr().out
    assert f"gemini: {stack}-gemini" in out and f"openai: {stack}-openai" in out
    assert "other" not in out
    assert "live" not in out


def test_a_provider_with_secrets_in_several_stacks_needs_the_stack(
    stack_secrets: tuple[Any, str, dict[str, str]],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    client, _, arns = stack_secrets
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-live-new\n"))
    assert (
        main(["provider-keys", "set", "openai", "--endpoint-url", moto_endpoint, "--region", "us-east-1"])
        == 2
    )
    assert "--stack" in capsys.readouterr().out
    untouched = json.loads(client.get_secret_value(SecretId=arns["openai"])["SecretString"])
    assert untouched == {"primary": "sk-live-openai", "backup": ""}
