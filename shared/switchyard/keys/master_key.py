"""The master (admin) key, re-read from its Secrets Manager secret on a TTL.

Read once per cold start, a replaced master key would keep working in every warm container until
each happened to start cold again: revoking it meant forcing cold starts. Here the key is read again
when ``ttl_s`` has passed since the last read, on the request that finds it stale (one read at a
time), so a key put in the secret replaces the old one in every container within the TTL (plus one
read). If the secret cannot be read then, the key read before stays in use and the read is tried
again a few seconds later: admin auth degrades, never breaks (that is also the one case where a
revocation waits longer than the TTL). A key given directly (``SWITCHYARD_MASTER_KEY``) is fixed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from time import monotonic

from pydantic import SecretStr

from switchyard.keys.ids import key_id
from switchyard.observability import logger

_RETRY_S = 5.0


class MasterKey:
    def __init__(
        self,
        key: SecretStr,
        *,
        read: Callable[[], SecretStr] | None = None,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._read = read
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._set(key)
        self._fresh_until = clock() + ttl_s

    @property
    def id(self) -> str:
        """The key's public id (what usage and limits name it by)."""
        return self._id

    async def current(self) -> bytes:
        """The key, read again first when it is older than the TTL. Never raises."""
        if self._read is not None and self._clock() >= self._fresh_until:
            await self._refresh(self._read)
        return self._key

    async def _refresh(self, read: Callable[[], SecretStr]) -> None:
        async with self._lock:
            if self._clock() < self._fresh_until:
                return  # another request read it while this one waited
            try:
                key = await asyncio.to_thread(read)
            except Exception:  # any SDK or network failure, or an emptied secret
                logger.warning("master key secret not readable: the key read before stays in use")
                self._fresh_until = self._clock() + min(self._ttl_s, _RETRY_S)
                return
            if key.get_secret_value().encode() != self._key:
                logger.info("master key replaced in its secret")
            self._set(key)
            self._fresh_until = self._clock() + self._ttl_s

    def _set(self, key: SecretStr) -> None:
        value = key.get_secret_value()
        self._key = value.encode()
        self._id = key_id(value)


def key_from_secret(raw: str | bytes) -> SecretStr:
    """A key from a secret's value: the plain value, or the ``key`` field of a JSON object (what
    CloudFormation generates). Raises ValueError when it is empty."""
    value = (raw.decode() if isinstance(raw, bytes) else str(raw)).strip()
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("key"), str):
        value = parsed["key"]
    if not value:
        raise ValueError("the key's secret is empty")
    return SecretStr(value)
