"""Azure OpenAI: OpenAI's Chat Completions dialect at a deployment's own URL.

A deployment is addressed by name in the path, ``{endpoint}/openai/deployments/{deployment}/
chat/completions?api-version=…`` (``…/embeddings`` for an embeddings deployment), so a routing
deployment's ``model`` is the Azure deployment name (its price, unless the table knows that
name, comes from the deployment's own ``price``). The key goes in the ``api-key`` header, not
``Authorization``.
"""

from __future__ import annotations

from urllib.parse import quote

from switchyard.providers.base import Target
from switchyard.providers.http import Upstream, base_url
from switchyard.providers.openai_compatible import OpenAICompatibleProvider

# The newest generally available data-plane version (it takes stream_options.include_usage).
AZURE_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAICompatibleProvider):
    def __init__(
        self,
        client: Upstream,
        endpoint: str,
        *,
        api_version: str = AZURE_API_VERSION,
        stream_usage: bool = True,
    ) -> None:
        super().__init__(client, endpoint, stream_usage=stream_usage)
        self._query = f"?api-version={quote(api_version, safe='')}"

    def _url(self, target: Target, endpoint: str = "chat/completions") -> str:
        deployment = quote(target.upstream_model, safe="")
        base = base_url(target, self._default_base_url)
        return f"{base}/openai/deployments/{deployment}/{endpoint}{self._query}"

    def _headers(self, target: Target) -> dict[str, str]:
        headers = {"api-key": target.api_key} if target.api_key else {}
        if target.headers:
            headers.update(target.headers)
        return headers
