"""Building the jobs service from settings (called by the composition root, once per cold start):
the SQS queue when a URL is set, else an in-process one; the webhook guard and sender."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from switchyard.config.settings import Settings
from switchyard.jobs.guard import Resolver, WebhookGuard, system_resolver
from switchyard.jobs.queue import JobQueue, MemoryJobQueue
from switchyard.jobs.service import JobLimits, JobsService
from switchyard.jobs.webhooks import WebhookSender
from switchyard.keys.client_auth import read_master_key
from switchyard.state.jobs import JobStore

_WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


async def open_jobs(
    settings: Settings,
    store: JobStore,
    *,
    clock: Callable[[], float],
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> JobsService:
    """Reads the webhook master secret from Secrets Manager when only its name is set (raises
    ValueError if it is empty). ``webhook_transport`` and ``resolver`` are for tests."""
    closers: list[Callable[[], Any]] = []
    queue: JobQueue = MemoryJobQueue()
    if settings.jobs_queue_url:
        from switchyard.jobs.sqs import SqsJobQueue, build_sqs_client

        region, endpoint = settings.aws_region, settings.aws_endpoint_url
        sqs = SqsJobQueue(
            settings.jobs_queue_url,
            make_client=lambda: build_sqs_client(region=region, endpoint_url=endpoint),
        )
        queue = sqs
        closers.append(sqs.close)
    guard = WebhookGuard(settings.webhook_allow, resolver=resolver)
    # Never follow redirects: a 30x to an internal address would bypass the guard.
    client = httpx.AsyncClient(transport=webhook_transport, timeout=_WEBHOOK_TIMEOUT, follow_redirects=False)
    closers.append(client.aclose)
    master = settings.webhook_secret
    if master is None and settings.webhook_secret_name:
        master = await asyncio.to_thread(read_master_key, settings.webhook_secret_name)
    # Without a configured secret deliveries are still signed, but nobody can verify them.
    secret = master.get_secret_value().encode() if master else secrets.token_bytes(32)
    sender = WebhookSender(secret, guard, client, clock=clock)
    limits = JobLimits(
        ttl_s=settings.job_ttl_s, lease_s=settings.job_lease_s, max_batch=settings.jobs_max_batch
    )
    return JobsService(store, queue, guard, sender, limits, clock=clock, closers=closers)
