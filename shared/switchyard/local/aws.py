"""Embedded AWS for ``make run`` and the tests: a moto server on 127.0.0.1, provisioned from
``template.yaml`` itself (through :mod:`switchyard.local.template`), never from a copy.

moto's threaded server handles each request in a thread of its own and does not lock its DynamoDB
backend, so two conditional writes to one item could interleave between check and write, which
real DynamoDB never allows. Requests are therefore applied one at a time (connections are still
served concurrently), which is what the shared-state guarantees are tested against.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

import switchyard
from switchyard.config.local import LocalSettings
from switchyard.local.template import (
    DEFAULT_PREFIX,
    DEFAULT_REGION,
    QUEUE,
    TABLE,
    load_template,
    local_name,
    queue_definitions,
    table_definitions,
    ttl_definitions,
)

# The repository's template when switchyard is installed from a checkout (pip install -e .).
DEFAULT_TEMPLATE = Path(switchyard.__file__).resolve().parents[2] / "template.yaml"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass(frozen=True)
class LocalResources:
    endpoint: str
    tables: dict[str, str]  # logical id -> table name
    queues: dict[str, str]  # logical id -> queue URL (on the moto server)


class _OneAtATime:
    """A WSGI app that lets one request at a time into moto."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


class _SerializedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def moto_server(host: str = "127.0.0.1") -> Iterator[str]:
    """A moto server on a free port of ``host`` (loopback only), stopped on exit; yields its URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = _SerializedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield f"http://{bound_host}:{port}"
    finally:
        server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=DEFAULT_REGION,
        **CREDENTIALS,
    )


def provision(
    endpoint: str, template_path: Path = DEFAULT_TEMPLATE, *, prefix: str = DEFAULT_PREFIX
) -> LocalResources:
    """Create every table (with its TTL) and queue of the template on ``endpoint``."""
    template = load_template(template_path)
    resources = template.get("Resources") or {}
    logical_tables = [rid for rid, res in resources.items() if res.get("Type") == TABLE]
    tables: dict[str, str] = {}
    queues: dict[str, str] = {}
    dynamodb, sqs = client("dynamodb", endpoint), client("sqs", endpoint)
    try:
        for logical_id, kwargs in zip(
            logical_tables, table_definitions(template, prefix=prefix), strict=True
        ):
            dynamodb.create_table(**kwargs)
            tables[logical_id] = kwargs["TableName"]
        for kwargs in ttl_definitions(template, prefix=prefix):
            dynamodb.update_time_to_live(**kwargs)
        by_name = {
            _queue_name(rid, res, prefix): rid for rid, res in resources.items() if res.get("Type") == QUEUE
        }
        for kwargs in queue_definitions(template, prefix=prefix):
            url = sqs.create_queue(**kwargs)["QueueUrl"]
            queues[by_name.get(kwargs["QueueName"], kwargs["QueueName"])] = url
    finally:
        dynamodb.close()
        sqs.close()
    return LocalResources(endpoint, tables, queues)


def _queue_name(logical_id: str, resource: dict[str, Any], prefix: str) -> str:
    props = resource.get("Properties") or {}
    name = props.get("QueueName")
    if isinstance(name, str):
        return name
    return local_name(logical_id, prefix) + (".fifo" if props.get("FifoQueue") else "")


LOCAL_STATE_TIMEOUT_S = 5.0


def emulated_timeout(settings: LocalSettings) -> float:
    """The state call timeout on the emulator: the configured one if set, else a longer default."""
    return (
        settings.state_timeout_s if "state_timeout_s" in settings.model_fields_set else LOCAL_STATE_TIMEOUT_S
    )


@contextmanager
def local_state(settings: LocalSettings) -> Iterator[LocalSettings]:
    """Settings whose state lives in DynamoDB on an embedded moto server, provisioned from the
    template, for as long as the context lasts. Raises TemplateError, OSError (no template)."""
    template = settings.template_path or DEFAULT_TEMPLATE
    with moto_server() as endpoint:
        resources = provision(endpoint, template)
        yield settings.model_copy(
            update={
                "state_table": resources.tables["StateTable"],
                "cache_table": resources.tables.get("CacheTable"),
                "jobs_queue_url": resources.queues.get("JobsQueue"),
                "aws_endpoint_url": endpoint,
                "aws_region": DEFAULT_REGION,
                # The emulator applies one request at a time in Python: on a busy machine a call
                # can wait past the 1 s meant for DynamoDB, which is slowness, not an outage.
                "state_timeout_s": emulated_timeout(settings),
            }
        )
