"""Secrets Manager rotation of a provider key secret : promote the backup.

The four steps Secrets Manager calls, each idempotent (it may call a step again):

- ``createSecret``: stage ``{"primary": <backup>, "backup": ""}`` as AWSPENDING under the
  rotation's token. The retired key is not kept as the backup: the router would fail over to a key
  the operator meant to retire (the secret's AWSPREVIOUS version still holds it). Fails when there
  is no backup to promote; a secret that holds no key at all (a provider not in use) is carried
  over unchanged, so its schedule neither fails nor alarms.
- ``setSecret``: nothing to do: provider keys are issued by the provider, not set by us.
- ``testSecret``: the promoted key must list the provider's models (``GET …/models``); a failure
  raises, so AWSCURRENT stays on the old version and the rotation is reported failed.
- ``finishSecret``: move AWSCURRENT to the new version and emit ``Switchyard Provider Key Rotated``
  asking for a new backup (none for a secret without keys).

The secret names its provider with the tag ``switchyard:provider``; the provider's kind and base URL
come from the routing config. Keys never appear in logs, errors or events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from switchyard.config.routing import ProviderConfig, RoutingConfig
from switchyard.events import KEY_ROTATED

PROVIDER_TAG = "switchyard:provider"
_ANTHROPIC_VERSION = "2023-06-01"

KeyTest = Callable[[ProviderConfig, str], bool]
Publish = Callable[[str, dict[str, Any]], None]


class RotationError(Exception):
    """A step cannot complete; Secrets Manager marks the rotation failed and keeps AWSCURRENT."""


def models_endpoint_test(client: httpx.Client) -> KeyTest:
    """A key is good when the provider's models endpoint answers 200 with it."""

    def test(provider: ProviderConfig, key: str) -> bool:
        base = (provider.base_url or "").rstrip("/")
        if provider.kind == "anthropic":
            url, headers = f"{base}/v1/models", {"x-api-key": key, "anthropic-version": _ANTHROPIC_VERSION}
        else:
            url, headers = f"{base}/models", {"Authorization": f"Bearer {key}"}
        try:
            return client.get(url, headers=headers).status_code == 200
        except httpx.HTTPError:
            return False

    return test


class Rotator:
    def __init__(
        self, secrets: Any, providers: Mapping[str, ProviderConfig], test: KeyTest, publish: Publish
    ) -> None:
        self._secrets = secrets  # a boto3 secretsmanager client
        self._providers = providers
        self._test = test
        self._publish = publish

    def handle(self, event: Mapping[str, Any]) -> None:
        """One rotation step event. Raises RotationError."""
        step, arn, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
        meta = self._secrets.describe_secret(SecretId=arn)
        stages = meta.get("VersionIdsToStages", {})
        if "AWSCURRENT" in stages.get(token, []):
            return  # this version is already current: a repeated call after success
        steps: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
            "createSecret": self._create,
            "setSecret": lambda *_: None,
            "testSecret": self._check,
            "finishSecret": self._finish,
        }
        if step not in steps:
            raise RotationError(f"unknown rotation step {step!r}")
        steps[step](arn, token, meta)

    def _create(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        if self._value(arn, token, "AWSPENDING") is not None:
            return  # already staged by an earlier call of this step
        current = self._value(arn, None, "AWSCURRENT") or {}
        if not current.get("primary") and not current.get("backup"):
            staged = current  # no key to rotate: a provider this deployment does not use
        elif not current.get("backup"):
            raise RotationError(f"{meta.get('Name', arn)}: no backup key to promote")
        else:
            staged = {**current, "primary": current["backup"], "backup": ""}
        self._secrets.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=json.dumps(staged),
            VersionStages=["AWSPENDING"],
        )

    def _check(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        pending = self._value(arn, token, "AWSPENDING")
        if pending is None:
            raise RotationError(f"{meta.get('Name', arn)}: nothing staged to test")
        if not pending.get("primary"):
            return  # a secret without keys: nothing to test
        provider = self._provider(meta)
        if not self._test(provider, pending["primary"]):
            raise RotationError(f"{meta.get('Name', arn)}: the provider rejected the promoted key")

    def _finish(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        stages = meta.get("VersionIdsToStages", {})
        current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
        promoted = (self._value(arn, token, "AWSPENDING") or {}).get("primary")
        self._secrets.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )
        if not promoted:
            return  # nothing was rotated: nobody needs to act
        detail = {
            "secret": meta.get("Name", arn),
            "provider": _tag(meta),
            "action": "The backup key was promoted; put a new key in the secret's backup slot.",
        }
        self._publish(KEY_ROTATED, detail)

    def _provider(self, meta: dict[str, Any]) -> ProviderConfig:
        name = _tag(meta)
        provider = self._providers.get(name or "")
        if provider is None:
            raise RotationError(f"{meta.get('Name')}: tag {PROVIDER_TAG} names no configured provider")
        return provider

    def _value(self, arn: str, token: str | None, stage: str) -> dict[str, str] | None:
        kwargs: dict[str, Any] = {"SecretId": arn, "VersionStage": stage}
        if token is not None:
            kwargs["VersionId"] = token
        try:
            raw = self._secrets.get_secret_value(**kwargs)["SecretString"]
        except self._secrets.exceptions.ResourceNotFoundException:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return {"primary": raw.strip()}  # a plain-string secret is the primary key
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


def _tag(meta: Mapping[str, Any]) -> str | None:
    for tag in meta.get("Tags", []):
        if tag.get("Key") == PROVIDER_TAG:
            return str(tag.get("Value"))
    return None


def configured_providers(config_path: Path) -> dict[str, ProviderConfig]:
    """Every provider of the routing config, keys or not (the rotation needs kind and URL only)."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    return dict(RoutingConfig.model_validate(raw).providers)
