"""The jobs service from settings, once per cold start: the SQS queue when a URL is set, else an
in-process one; the webhook guard and sender with the signing secret."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

from switchyard.compose.secrets import open_webhook_secret
from switchyard.config.settings import GatewaySettings
from switchyard.jobs.guard import Resolver, WebhookGuard, system_resolver
from switchyard.jobs.queue import JobQueue, MemoryJobQueue
from switchyard.jobs.service import JobLimits, JobsService
from switchyard.jobs.webhooks import WebhookSender
from switchyard.state.jobs import JobStore

_WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


async def open_jobs(
    settings: GatewaySettings,
    store: JobStore,
    *,
    clock: Callable[[], float],
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> JobsService:
    """Reads the webhook master secret from Secrets Manager when only its name is set (raises
    ValueError if it is empty, and in Lambda without a queue). ``webhook_transport`` and
    ``resolver`` are for tests."""
    closers: list[Callable[[], Any]] = []
    queue: JobQueue = MemoryJobQueue()
    if settings.lambda_function_name and not settings.jobs_queue_url:
        raise ValueError(
            f"JOBS_QUEUE_URL is not set for the Lambda function {settings.lambda_function_name}: "
            "submitted jobs would wait in one instance's memory"
        )
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

    def client() -> httpx.AsyncClient:
        # Never follow redirects: a 30x to an internal address would bypass the guard.
        return httpx.AsyncClient(
            transport=webhook_transport, timeout=_WEBHOOK_TIMEOUT, follow_redirects=False
        )

    master = await open_webhook_secret(settings)
    # Without a configured secret deliveries are still signed, but nobody can verify them.
    secret = master.get_secret_value().encode() if master else secrets.token_bytes(32)
    sender = WebhookSender(secret, guard, client, clock=clock)
    closers.append(sender.aclose)
    limits = JobLimits(
        ttl_s=settings.job_ttl_s, lease_s=settings.job_lease_s, max_batch=settings.jobs_max_batch
    )
    return JobsService(store, queue, guard, sender, limits, clock=clock, closers=closers)
