"""``switchyard provider-keys`` against Secrets Manager (the moto server on 127.0.0.1): ``set``
fills a slot from stdin, ``show-status`` reports slots of the secrets named (by ARN, name or
provider) or of every provider's secret; neither prints a key, and no AWS failure prints a
traceback."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from switchyard.cli import main
from switchyard.cli.provider_keys import STACK_TAG
from switchyard.local.aws import CREDENTIALS


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Credentials for moto only, no profile files, and no instance metadata lookups (boto3
    would otherwise ask a link-local address for credentials)."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    return monkeypatch


@pytest.fixture
def secret(moto_endpoint: str, aws_env: pytest.MonkeyPatch) -> tuple[Any, str]:
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS
    )
    name = f"switchyard/openai-{uuid.uuid4().hex[:8]}"
    tags = [{"Key": "switchyard:provider", "Value": "openai"}]
    client.create_secret(Name=name, SecretString='{"primary": "sk-live-primary", "backup": ""}', Tags=tags)
    return client, name


def test_set_fills_the_backup_slot_and_status_never_prints_keys(
    secret: tuple[Any, str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    client, name = secret
    common = ["--endpoint-url", moto_endpoint, "--region", "us-east-1"]
    assert main(["provider-keys", "show-status", name, *common, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["data"]
    assert (row["name"], row["provider"], row["primary"], row["backup"]) == (name, "openai", "set", "EMPTY")
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-live-backup\n"))
    assert main(["provider-keys", "set", name, "--slot", "backup", *common]) == 0
    value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    assert value == {"primary": "sk-live-primary", "backup": "sk-live-backup"}
    assert main(["provider-keys", "show-status", name, *common]) == 0
    out = capsys.readouterr().out
    assert name in out and "EMPTY" not in out and "off" in out
    assert "sk-live" not in out


def test_show_status_without_ids_lists_every_tagged_secret(
    secret: tuple[Any, str], moto_endpoint: str, capsys: Any, aws_env: pytest.MonkeyPatch
) -> None:
    client, name = secret
    client.create_secret(Name=f"unrelated-{uuid.uuid4().hex[:8]}", SecretString="x")
    aws_env.setenv("AWS_REGION", "us-east-1")  # the region from the environment, as the README runs it
    assert main(["provider-keys", "show-status", "--endpoint-url", moto_endpoint, "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)["data"]]
    assert name in names and not any(n.startswith("unrelated-") for n in names)


def test_aws_failures_are_one_line_that_says_what_to_do(
    secret: tuple[Any, str], moto_endpoint: str, capsys: Any, aws_env: pytest.MonkeyPatch
) -> None:
    missing = ["provider-keys", "show-status", "switchyard/nope", "--endpoint-url", moto_endpoint]
    assert main([*missing, "--region", "us-east-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no secret 'switchyard/nope' in us-east-1") and "Traceback" not in err
    assert main(missing) == 2  # no --region, no AWS_REGION, no profile
    assert "no AWS region: pass --region" in capsys.readouterr().err
    aws_env.delenv("AWS_ACCESS_KEY_ID")
    aws_env.delenv("AWS_SECRET_ACCESS_KEY")
    assert main([*missing, "--region", "us-east-1"]) == 2
    assert "no AWS credentials: run `aws configure`" in capsys.readouterr().err
    aws_env.setattr("sys.stdin", io.StringIO("sk-new\n"))
    assert (
        main(
            [
                "provider-keys",
                "set",
                "switchyard/nope",
                "--region",
                "us-east-1",
                "--endpoint-url",
                moto_endpoint,
            ]
        )
        == 2
    )
    assert "no AWS credentials" in capsys.readouterr().err


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
    assert main(["provider-keys", "show-status", *common, "--json"]) == 0
    out = capsys.readouterr().out
    rows = {row["provider"]: row for row in json.loads(out)["data"]}
    assert rows["gemini"]["name"] == f"{stack}-gemini" and rows["openai"]["name"] == f"{stack}-openai"
    assert rows["openai"]["backup"] == "EMPTY" and "other" not in out
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
    assert "--stack" in capsys.readouterr().err
    untouched = json.loads(client.get_secret_value(SecretId=arns["openai"])["SecretString"])
    assert untouched == {"primary": "sk-live-openai", "backup": ""}
