"""Webhook signatures and verification, the SSRF guard (with an injected resolver: nothing here
connects anywhere), and deliveries with retries through httpx.MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from switchyard.jobs.guard import UnsafeTargetError, WebhookGuard
from switchyard.jobs.webhooks import SIGNATURE_HEADER, WebhookSender, sign, tenant_secret, verify

BODY = b'{"id":"job_1","status":"succeeded"}'
NOW = 1_800_000_000
PUBLIC = "93.184.216.34"


def resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


# ---------------------------------------------------------------------------- signatures


def test_a_signature_verifies_with_the_same_secret_only() -> None:
    header = sign("whsec_a", BODY, NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify("whsec_a", BODY, header, now=NOW + 10)
    assert not verify("whsec_b", BODY, header, now=NOW)
    assert not verify("whsec_a", BODY + b" ", header, now=NOW)


def test_old_or_malformed_signatures_fail() -> None:
    header = sign("s", BODY, NOW)
    assert not verify("s", BODY, header, now=NOW + 301)
    assert verify("s", BODY, header, now=NOW + 301, tolerance_s=600)
    for bad in (None, "", "v1=abc", f"t=x,v1={header.rpartition('v1=')[2]}", f"t={NOW}"):
        assert not verify("s", BODY, bad, now=NOW)


def test_a_header_with_several_v1_values_verifies_if_any_matches() -> None:
    good = sign("s", BODY, NOW).rpartition("v1=")[2]
    assert verify("s", BODY, f"t={NOW},v1=00ff,v1={good}", now=NOW)


def test_tenant_secrets_differ_per_tenant_and_master() -> None:
    secrets = {tenant_secret(b"m1", "a"), tenant_secret(b"m1", "b"), tenant_secret(b"m2", "a")}
    assert len(secrets) == 3 and tenant_secret(b"m1", "a") == tenant_secret(b"m1", "a")


# ---------------------------------------------------------------------------- the guard


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # EC2/ECS metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1%eth0",
        "fd00:ec2::254",  # EC2 metadata over IPv6
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
async def test_names_resolving_to_non_public_addresses_are_refused(address: str) -> None:
    guard = WebhookGuard(resolver=resolver({"hooks.example.com": [address]}))
    with pytest.raises(UnsafeTargetError):
        await guard.check("https://hooks.example.com/in")


async def test_one_bad_address_among_good_ones_is_enough_to_refuse() -> None:
    guard = WebhookGuard(resolver=resolver({"h.example.com": [PUBLIC, "10.0.0.1"]}))
    with pytest.raises(UnsafeTargetError):
        await guard.check("https://h.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]:9/",
        "http://169.254.169.254/",
        "ftp://h.example.com/",
        "https:///x",
        "https://user:pw@h.example.com/",
        "https://unknown.example.com/",
    ],
)
async def test_literal_private_addresses_bad_schemes_and_unresolvable_hosts_are_refused(url: str) -> None:
    guard = WebhookGuard(resolver=resolver({"h.example.com": [PUBLIC]}))
    with pytest.raises(UnsafeTargetError):
        await guard.check(url)


async def test_a_public_target_is_checked_and_pinned_to_its_address() -> None:
    target = await WebhookGuard(resolver=resolver({"h.example.com": [PUBLIC]})).check(
        "https://h.example.com/in"
    )
    assert target.address == PUBLIC and target.url.host == "h.example.com"


async def test_the_allow_list_admits_networks_and_host_names() -> None:
    guard = WebhookGuard(
        ["10.0.0.0/8", "internal.corp"], resolver=resolver({"internal.corp": ["192.168.0.9"]})
    )
    assert (await guard.check("http://10.9.9.9/hook")).address == "10.9.9.9"
    assert (await guard.check("http://internal.corp/hook")).address == "192.168.0.9"
    with pytest.raises(UnsafeTargetError):
        await guard.check("http://192.168.0.9/hook")


# ---------------------------------------------------------------------------- deliveries


def sender(handler, table: dict[str, list[str]], *, attempts: int = 4):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    guard = WebhookGuard(resolver=resolver(table))
    sender = WebhookSender(
        b"master", guard, lambda: client, attempts=attempts, sleep=sleep, clock=lambda: NOW
    )
    return sender, slept


async def test_a_delivery_is_signed_for_the_tenant_and_sent_to_the_checked_address() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    webhooks, slept = sender(handler, {"h.example.com": [PUBLIC]})
    assert await webhooks.deliver("https://h.example.com/in?x=1", BODY, "tenant-a", "job_1")
    [request] = seen
    assert (request.url.host, request.url.path, request.url.query) == (PUBLIC, "/in", b"x=1")
    assert request.headers["host"] == "h.example.com"
    assert request.extensions["sni_hostname"] == "h.example.com"
    assert request.content == BODY and slept == []
    secret = tenant_secret(b"master", "tenant-a")
    assert verify(secret, request.content, request.headers[SIGNATURE_HEADER], now=NOW)


async def test_the_http_client_is_made_on_the_first_delivery_only() -> None:
    """The router signs secrets but never delivers: it must not pay for a client's TLS context."""
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(204))))
        return made[-1]

    guard = WebhookGuard(resolver=resolver({"h.example.com": [PUBLIC]}))
    webhooks = WebhookSender(b"master", guard, make, clock=lambda: NOW)
    assert webhooks.secret_for("t").startswith("whsec_")
    await webhooks.aclose()
    assert made == []
    webhooks = WebhookSender(b"master", guard, make, clock=lambda: NOW)
    assert await webhooks.deliver("https://h.example.com/a", BODY, "t", "job_1")
    assert await webhooks.deliver("https://h.example.com/b", BODY, "t", "job_2")
    assert len(made) == 1 and not made[0].is_closed
    await webhooks.aclose()
    assert made[0].is_closed


async def test_failed_deliveries_are_retried_with_backoff_up_to_the_bound() -> None:
    statuses = iter([503, 500])
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        status = next(statuses, 200)
        return httpx.Response(status)

    webhooks, slept = sender(handler, {"h.example.com": [PUBLIC]})
    assert await webhooks.deliver("https://h.example.com/", BODY, "t", "job_1")
    assert calls == 3 and slept == [0.5, 1.0]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    webhooks, slept = sender(down, {"h.example.com": [PUBLIC]}, attempts=4)
    assert not await webhooks.deliver("https://h.example.com/", BODY, "t", "job_1")
    assert slept == [0.5, 1.0, 2.0]


async def test_a_client_error_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(410, content=json.dumps({"gone": True}))

    webhooks, _ = sender(handler, {"h.example.com": [PUBLIC]})
    assert not await webhooks.deliver("https://h.example.com/", BODY, "t", "job_1")
    assert calls == 1


async def test_dns_rebinding_after_submission_is_refused_at_delivery() -> None:
    """The name resolved to a public address when the job was submitted; by delivery it points
    at the metadata service: nothing is sent."""
    table = {"h.example.com": [PUBLIC]}
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200)

    webhooks, _ = sender(handler, table)
    await WebhookGuard(resolver=resolver(table)).check("https://h.example.com/")  # at submission
    table["h.example.com"] = ["169.254.169.254"]
    assert not await webhooks.deliver("https://h.example.com/", BODY, "t", "job_1")
    assert calls == 0
