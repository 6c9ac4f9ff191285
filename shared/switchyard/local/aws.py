"""Embedded AWS for ``make run`` and the tests: a moto server on 127.0.0.1, provisioned from
``template.yaml`` itself (through :mod:`switchyard.local.template`), never from a copy.

moto's threaded server handles each request in a thread of its own and does not lock its
backends; :class:`~switchyard.local.moto_gate.MotoGate` in front of it runs each service's requests
one at a time (two conditional writes to one item never interleave, as in real DynamoDB) and never
holds a lock while a request waits (an SQS long poll). The shared-state guarantees are tested
against it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

import switchyard
from switchyard.local import moto_numbers
from switchyard.local.moto_gate import MotoGate
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


class _GatedMotoServer(ThreadedMotoServer):
    """moto's threaded server with :class:`MotoGate` in front of its dispatcher."""

    def __init__(self, *, ip_address: str, port: int) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.gate = MotoGate(DomainDispatcherApplication(create_backend_app))

    def _server_entry(self) -> None:
        self._server = make_server(
            self._ip_address, self._port, self.gate, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@dataclass(frozen=True)
class EmulatedAws:
    endpoint: str  # the moto server's URL
    gate: MotoGate  # what runs at once on it; its locks and change counts


@contextmanager
def emulated_aws(host: str = "127.0.0.1") -> Iterator[EmulatedAws]:
    """A moto server behind a :class:`MotoGate` on a free port of ``host`` (loopback only),
    stopped on exit."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    moto_numbers.patch()
    server = _GatedMotoServer(ip_address=host, port=0)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield EmulatedAws(f"http://{bound_host}:{port}", server.gate)
    finally:
        server.stop()


@contextmanager
def moto_server(host: str = "127.0.0.1") -> Iterator[str]:
    """:func:`emulated_aws`'s URL."""
    with emulated_aws(host) as aws:
        yield aws.endpoint


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
    """Create every table (with its TTL) and queue of the template on ``endpoint``; those that
    exist already (put back from a saved state) are kept as they are."""
    template = load_template(template_path)
    resources = template.get("Resources") or {}
    logical_tables = [rid for rid, res in resources.items() if res.get("Type") == TABLE]
    tables: dict[str, str] = {}
    queues: dict[str, str] = {}
    dynamodb, sqs = client("dynamodb", endpoint), client("sqs", endpoint)
    try:
        existing = set(dynamodb.list_tables()["TableNames"])
        ttls = {kwargs["TableName"]: kwargs for kwargs in ttl_definitions(template, prefix=prefix)}
        for logical_id, kwargs in zip(
            logical_tables, table_definitions(template, prefix=prefix), strict=True
        ):
            name = kwargs["TableName"]
            if name not in existing:
                dynamodb.create_table(**kwargs)
                if name in ttls:
                    dynamodb.update_time_to_live(**ttls[name])
            tables[logical_id] = name
        by_name = {
            _queue_name(rid, res, prefix): rid for rid, res in resources.items() if res.get("Type") == QUEUE
        }
        for kwargs in queue_definitions(template, prefix=prefix):
            url = sqs.create_queue(**kwargs)["QueueUrl"]  # an existing one with these attributes: its URL
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
