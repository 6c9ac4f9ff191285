"""The SQS ``JobQueue``: ``SendMessageBatch`` in groups of ten, in a worker thread (boto3 blocks).

boto3 is imported when the adapter is built, never by the router's cold import of the core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from switchyard.jobs.queue import QueueUnavailableError

_BATCH = 10  # SQS's maximum per SendMessageBatch


def build_sqs_client(*, region: str, endpoint_url: str | None, timeout_s: float = 2.0) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    secret = "local" if endpoint_url else None  # a local emulation takes any credentials
    return boto3.session.Session().client(
        "sqs",
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=secret,
        aws_secret_access_key=secret,
    )


class SqsJobQueue:
    """``client`` is built on the first send when only ``make_client`` is given: the router's cold
    start does not pay for an SQS client that most requests never use."""

    def __init__(
        self, queue_url: str, *, client: Any = None, make_client: Callable[[], Any] | None = None
    ) -> None:
        assert client is not None or make_client is not None
        self._client = client
        self._make_client = make_client
        self._url = queue_url

    async def send(self, bodies: Sequence[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            assert self._make_client is not None
            self._client = await asyncio.to_thread(self._make_client)
        errors = (BotoCoreError, ClientError)
        for start in range(0, len(bodies), _BATCH):
            entries = [
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + _BATCH])
            ]
            try:
                answer = await asyncio.to_thread(
                    self._client.send_message_batch, QueueUrl=self._url, Entries=entries
                )
            except errors as exc:
                raise QueueUnavailableError(f"SQS SendMessageBatch: {type(exc).__name__}") from exc
            if answer.get("Failed"):
                raise QueueUnavailableError(f"SQS refused {len(answer['Failed'])} messages")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
