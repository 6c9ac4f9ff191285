"""Provider API keys: Secrets Manager through a warm cache, environment variables as the fallback.

Secrets hold JSON ``{"primary": "...", "backup": "..."}`` (DESIGN §6); a plain-string secret is
taken as the primary key. Secrets Manager is read through Powertools parameters, imported only
when a secret is configured so that a local run never loads boto3.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from time import monotonic
from typing import Any

from switchyard.config.routing import KeyRef, RoutingConfig
from switchyard.errors import Kind, ProviderError

SecretReader = Callable[[str, int], Any]


def powertools_secret_reader(name: str, max_age: int) -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, max_age=max_age)


class ProviderKeys:
    def __init__(
        self,
        config: RoutingConfig,
        environment: dict[str, str],
        *,
        max_age_s: int = 300,
        read_secret: SecretReader = powertools_secret_reader,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._refs = {name: p.api_key for name, p in config.providers.items()}
        self._env = environment
        self._max_age = max_age_s
        self._read_secret = read_secret
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    async def get(self, provider: str, slot: str | None = None) -> str | None:
        """The key for ``provider`` (None when it needs none). Raises ProviderError(AUTH) when a
        configured secret cannot be read or holds no key, so the loop fails over."""
        ref = self._refs.get(provider)
        if ref is None:
            return None
        if ref.secret:
            values = await self._secret(ref)
            key = values.get(slot or ref.field)
            if key:
                return key
        if ref.env and self._env.get(ref.env):
            return self._env[ref.env]
        raise ProviderError(Kind.AUTH, "No API key is configured for the upstream provider.")

    async def backup(self, provider: str) -> str | None:
        """The secret's ``backup`` key when it holds one different from the key in use (None: no
        backup to try). Never raises: a secret that cannot be read has no backup."""
        ref = self._refs.get(provider)
        if ref is None or not ref.secret:
            return None
        try:
            values = await self._secret(ref)
        except ProviderError:
            return None
        backup = values.get("backup")
        return backup if backup and backup != values.get(ref.field) else None

    async def _secret(self, ref: KeyRef) -> dict[str, str]:
        assert ref.secret is not None
        cached = self._cache.get(ref.secret)
        if cached and self._clock() - cached[0] < self._max_age:
            return cached[1]
        try:
            raw = await asyncio.to_thread(self._read_secret, ref.secret, self._max_age)
        except Exception as exc:  # any SDK or network failure: degrade to env / fail over
            if cached:
                return cached[1]  # a stale key beats none while Secrets Manager is unreachable
            if ref.env and self._env.get(ref.env):
                return {}
            raise ProviderError(Kind.AUTH, "The upstream provider's key could not be read.") from exc
        values = parse_key_secret(raw)
        self._cache[ref.secret] = (self._clock(), values)
        return values


def parse_key_secret(raw: Any) -> dict[str, str]:
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {"primary": raw.strip()}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str) and v}
    return {}
