"""``switchyard provider-keys`` against Secrets Manager (the moto server on 127.0.0.1): ``set``
fills a slot from stdin and ``show-status`` reports slots; neither prints a key."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import boto3
import pytest

from switchyard.cli import main
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
