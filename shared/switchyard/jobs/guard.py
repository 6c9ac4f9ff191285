"""The SSRF guard for webhook targets: no private, loopback, link-local or metadata addresses.

A target is checked when the job is submitted and again at delivery, where the request then goes
to the very address that was checked (DNS rebinding: a name that resolved to a public address at
the check must not be re-resolved to 169.254.169.254 for the connection). An allow-list of
networks (``10.0.0.0/8``) or exact host names lets an operator deliver inside their own network.
The resolver is injectable, so the guard is tested without any connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

type Resolver = Callable[[str, int], Awaitable[list[str]]]
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTargetError(ValueError):
    """The webhook URL is malformed, or resolves to an address deliveries may not reach."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Target:
    url: httpx.URL
    address: str  # the checked address the delivery connects to


class WebhookGuard:
    def __init__(self, allow: Sequence[str] = (), *, resolver: Resolver = system_resolver) -> None:
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._hosts: set[str] = set()
        for entry in allow:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._hosts.add(entry.lower().rstrip("."))
        self._resolver = resolver

    async def check(self, url: str) -> Target:
        """The target to deliver to. Raises UnsafeTargetError."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise UnsafeTargetError("webhook_url is not a URL") from exc
        if parsed.scheme not in ("https", "http") or not parsed.host:
            raise UnsafeTargetError("webhook_url must be an http(s) URL with a host")
        if parsed.userinfo:
            raise UnsafeTargetError("webhook_url may not carry credentials")
        host = parsed.host.lower().rstrip(".")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._resolve(host, port)
        if host in self._hosts:
            return Target(parsed, str(addresses[0]))
        for address in addresses:
            if not self._allowed(address):
                raise UnsafeTargetError(f"webhook_url resolves to a non-public address ({address})")
        return Target(parsed, str(addresses[0]))

    async def _resolve(self, host: str, port: int) -> list[Address]:
        try:
            found = await self._resolver(host, port)
        except OSError as exc:
            raise UnsafeTargetError(f"webhook_url host {host!r} does not resolve") from exc
        if not found:
            raise UnsafeTargetError(f"webhook_url host {host!r} does not resolve")
        # getaddrinfo may give a scoped IPv6 address ("fe80::1%eth0").
        return [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]

    def _allowed(self, address: Address) -> bool:
        if any(address in net for net in self._networks if net.version == address.version):
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            return self._allowed(mapped)
        # is_global is False for private, loopback, link-local (the 169.254.169.254 metadata
        # address), carrier-grade NAT, unique-local (fd00:ec2::254), reserved and unspecified.
        return address.is_global and not address.is_multicast
