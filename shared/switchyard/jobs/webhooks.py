"""Signed webhook deliveries, and the helper receivers verify them with.

Each delivery is a POST of the job's JSON with ``x-switchyard-signature: t=<unix time>,v1=<hex>``,
where v1 is HMAC-SHA256 over ``"<t>.<body>"`` with the secret of the tenant that owns the job.
Each tenant has its own secret, derived from the master webhook secret (:func:`tenant_secret`), so
one leaked secret does not let anyone forge another tenant's deliveries, while every key of a
tenant (jobs are the tenant's) verifies with the same one. Receivers call :func:`verify`.

Deliveries are retried with exponential backoff on connection errors, 408, 429 and 5xx, a bounded
number of times; the job's own status never depends on its webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

import httpx

from switchyard import signing
from switchyard.jobs.guard import UnsafeTargetError, WebhookGuard
from switchyard.observability import logger

SIGNATURE_HEADER = signing.HEADER
DEFAULT_TOLERANCE_S = 300
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def tenant_secret(master: bytes, tenant: str) -> str:
    """The webhook secret of one tenant: HMAC-SHA256 of its id under the master secret (a label
    apart from the per-key secrets of earlier versions, which a tenant id could equal)."""
    return "whsec_" + hmac.new(master, f"webhook-tenant\n{tenant}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value: the scheme signed requests use too (:mod:`switchyard.signing`)."""
    return signing.sign(secret, body, timestamp=timestamp)


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when ``header`` is a valid signature of ``body`` (the raw request bytes, not re-encoded
    JSON) made with ``secret`` within ``tolerance_s`` of ``now`` (replays of old deliveries fail)."""
    if not header:
        return False
    try:
        timestamp, candidates = signing.parse(header)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signing.signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


class WebhookSender:
    def __init__(
        self,
        master_secret: bytes,
        guard: WebhookGuard,
        client: Callable[[], httpx.AsyncClient],
        *,
        attempts: int = 5,
        base_delay_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._master = master_secret
        self._guard = guard
        # Made on the first delivery: the router never delivers, and a client's TLS context costs
        # ~30 ms of CPU at start-up (~0.2 s at 256 MB's share of a vCPU).
        self._make_client = client
        self._client: httpx.AsyncClient | None = None
        self._attempts = attempts
        self._base_delay_s = base_delay_s
        self._sleep = sleep
        self._clock = clock

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def secret_for(self, tenant: str) -> str:
        return tenant_secret(self._master, tenant)

    async def deliver(self, url: str, body: bytes, tenant: str, job_id: str) -> bool:
        """POST ``body`` to ``url``; True once it answered 2xx. Never raises."""
        for attempt in range(self._attempts):
            if attempt:
                await self._sleep(self._base_delay_s * 2 ** (attempt - 1))
            try:
                status = await self._post(url, body, tenant)
            except UnsafeTargetError as exc:
                logger.warning("webhook refused", extra={"job_id": job_id, "reason": str(exc)})
                return False
            except httpx.HTTPError as exc:
                status = None
                logger.info("webhook failed", extra={"job_id": job_id, "error": type(exc).__name__})
            if status is not None and 200 <= status < 300:
                return True
            if status is not None and status not in _RETRY_STATUSES:
                break
        logger.warning("webhook not delivered", extra={"job_id": job_id, "status": status})
        return False

    async def _post(self, url: str, body: bytes, tenant: str) -> int:
        # Checked again at delivery, and sent to the checked address (DNS rebinding).
        target = await self._guard.check(url)
        pinned = target.url.copy_with(host=target.address)
        headers = {
            "content-type": "application/json",
            "host": target.url.netloc.decode("ascii"),
            "user-agent": "switchyard-webhooks/1",
            SIGNATURE_HEADER: sign(self.secret_for(tenant), body, int(self._clock())),
        }
        extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
        if self._client is None:
            self._client = self._make_client()
        response = await self._client.post(pinned, content=body, headers=headers, extensions=extensions)
        return response.status_code
