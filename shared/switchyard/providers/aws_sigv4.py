"""AWS Signature Version 4 for upstream calls that go to AWS (Amazon Bedrock), with botocore's
signer and the function's own credentials.

botocore is imported when a signer is made (a configured Bedrock provider, at cold start), never
at import time: it is not in the deps layer. The Lambda Python runtime ships it (with boto3), so
it costs the package nothing there; locally and in tests it comes from the dev dependencies.

Credentials: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` of the
process environment as the settings read it (a Lambda function's role credentials are exactly
these), else botocore's default chain (profiles, SSO, container and instance roles), resolved
once off the event loop and refreshed by botocore when they expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from switchyard.errors import Kind, ProviderError

if TYPE_CHECKING:
    from botocore.credentials import Credentials, ReadOnlyCredentials

_SIGNED = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigV4Signer:
    """Signs requests for one service and region. Build it at cold start (it imports botocore)."""

    def __init__(
        self,
        service: str,
        region: str,
        environment: Mapping[str, str],
        *,
        credentials: Credentials | None = None,
    ) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials, RefreshableCredentials

        self._auth = SigV4Auth
        self._refreshable = RefreshableCredentials
        self._request = AWSRequest
        self._service = service
        self._region = region
        key, secret = environment.get("AWS_ACCESS_KEY_ID"), environment.get("AWS_SECRET_ACCESS_KEY")
        if credentials is None and key and secret:
            credentials = Credentials(key, secret, environment.get("AWS_SESSION_TOKEN") or None)
        self._credentials = credentials
        self._lock = asyncio.Lock()

    async def sign(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with the signature headers added. ``url`` must be exactly what goes on the
        wire (the canonical request is built from its path as written). Raises
        ProviderError(AUTH) when no credentials can be found."""
        frozen = await self._frozen()
        request = self._request(method=method, url=url, data=body, headers=dict(headers))
        self._auth(frozen, self._service, self._region).add_auth(request)
        signed = dict(headers)
        for name in _SIGNED:
            value = request.headers.get(name)
            if value is not None:
                signed[name] = value
        return signed

    async def _frozen(self) -> ReadOnlyCredentials:
        credentials = self._credentials
        if credentials is None:
            async with self._lock:  # one lookup of the default chain, however many calls wait
                if self._credentials is None:
                    self._credentials = await asyncio.to_thread(_default_chain)
            credentials = self._credentials
        if credentials is None:
            raise ProviderError(Kind.AUTH, "No AWS credentials were found to sign the upstream call.")
        if isinstance(credentials, self._refreshable) and credentials.refresh_needed():
            # A refresh may call STS or a metadata endpoint: not on the event loop.
            return await asyncio.to_thread(credentials.get_frozen_credentials)
        return credentials.get_frozen_credentials()


def _default_chain() -> Credentials | None:
    from botocore.session import Session

    return Session().get_credentials()
