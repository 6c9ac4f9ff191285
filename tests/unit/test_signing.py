"""The client helper ``switchyard.signing``: the webhook scheme, importable with nothing of the
gateway's dependencies, and a Signer that never signs the same body twice with one timestamp."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys

import httpx
import pytest

from switchyard import signing
from switchyard.jobs import webhooks

SECRET = "sysig_test"


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = signing.sign(SECRET, b'{"a": 1}', timestamp=1700000000)
    expected = hmac.new(SECRET.encode(), b'1700000000.{"a": 1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.sign(SECRET, '{"a": 1}', timestamp=1700000000) == header  # str bodies as UTF-8
    assert signing.parse(header) == (1700000000, [expected])


def test_the_webhook_scheme_is_the_same() -> None:
    header = signing.sign(SECRET, b"body", timestamp=1700000000)
    assert webhooks.sign(SECRET, b"body", 1700000000) == header
    assert webhooks.verify(SECRET, b"body", header, now=1700000100)
    assert not webhooks.verify(SECRET, b"other", header, now=1700000100)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=soon,v1=abc", "t=1700000000", "t=1700000000,v1="])
def test_parse_refuses_what_is_not_a_signature(header: str) -> None:
    with pytest.raises(ValueError):
        signing.parse(header)


def test_importing_the_helper_loads_none_of_the_gateway_s_dependencies() -> None:
    code = (
        "import sys, switchyard.signing;"
        "heavy = [m for m in ('pydantic', 'fastapi', 'httpx', 'boto3', 'aws_lambda_powertools', 'yaml')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_signer_bumps_the_timestamp_of_a_body_it_signed_this_second() -> None:
    now = [1700000000.2]
    signer = signing.Signer(SECRET, clock=lambda: now[0])
    first, again = signer.header(b"same"), signer.header(b"same")
    assert signing.parse(first)[0] == 1700000000 and signing.parse(again)[0] == 1700000001
    assert signing.parse(signer.header(b"other"))[0] == 1700000000  # another body: its own time
    now[0] = 1700000010.0
    assert signing.parse(signer.header(b"same"))[0] == 1700000010


def test_a_signer_signs_each_request_of_an_httpx_client() -> None:
    seen: list[httpx.Request] = []
    signer = signing.Signer(SECRET)
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    with httpx.Client(transport=transport, event_hooks={"request": [signer]}) as client:
        client.post("http://gw/v1/chat/completions", json={"model": "m"})
    [request] = seen
    timestamp, [v1] = signing.parse(request.headers[signing.HEADER])
    assert v1 == signing.signature(SECRET, request.content, timestamp)


async def test_a_signer_signs_each_request_of_an_async_client() -> None:
    seen: list[httpx.Request] = []
    signer = signing.Signer(SECRET)
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    async with httpx.AsyncClient(transport=transport, event_hooks={"request": [signer.async_hook]}) as client:
        await client.post("http://gw/v1/jobs", content=b'{"request": {}}')
    timestamp, [v1] = signing.parse(seen[0].headers[signing.HEADER])
    assert v1 == signing.signature(SECRET, b'{"request": {}}', timestamp)
