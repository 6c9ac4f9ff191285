"""Tenant records through a warm cache: what a request needs of its tenant beyond its key (the
tenant's guardrail policies, whether its keys must sign requests).

A record is trusted for ``ttl_s`` (the key cache's bound: a change reaches every warm container
within it; the container that made it at once, through :meth:`TenantCache.forget`), an unknown
tenant likewise. When the store cannot be reached a cached record is used past its TTL; a
tenant never seen is refused with 503, as an unknown key is: a requirement the gateway cannot
read is not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

from switchyard.errors import GatewayError
from switchyard.state.ports import KeyStore, StateUnavailableError, TenantRecord
from switchyard.state.warm import WarmCache


class TenantCache:
    def __init__(
        self, store: KeyStore, *, ttl_s: float = 30.0, clock: Callable[[], float] = monotonic
    ) -> None:
        self._records = WarmCache[str, TenantRecord](
            store.get_tenant, what="tenant", ttl_s=ttl_s, negative_ttl_s=ttl_s, clock=clock
        )

    async def get(self, tenant: str) -> TenantRecord | None:
        """The tenant's record (None: no such tenant). Raises GatewayError 503 when a tenant not
        seen before cannot be read."""
        try:
            return await self._records.get(tenant)
        except StateUnavailableError as exc:
            raise GatewayError(
                "Tenant settings cannot be read right now.",
                status=503,
                retry_after=5,
                code="keys_unavailable",
            ) from exc

    def forget(self, tenant: str) -> None:
        """This container changed the tenant: read it again on next use."""
        self._records.forget(tenant)
