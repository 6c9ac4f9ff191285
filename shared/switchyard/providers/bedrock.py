"""The Amazon Bedrock adapter: Converse and ConverseStream (and InvokeModel for embeddings) over
HTTPS, signed with SigV4.

``POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse`` (and
``/converse-stream``; ``/invoke`` for embeddings), the model id being a foundation model
(``amazon.nova-lite-v1:0``), a cross-region inference profile
(``us.anthropic.claude-haiku-4-5-20251001-v1:0``, ``global....``) or an ARN. Requests are signed
with the function's role credentials (:mod:`aws_sigv4`), or carry a Bedrock API key as a Bearer
token when the provider has a key configured. Translation is in :mod:`bedrock_wire` and
:mod:`bedrock_stream` (embeddings in :mod:`bedrock_embeddings`), failures in :mod:`bedrock_errors`.

Why httpx and not a boto3 client: the call shares the pooled aiohttp transport, its deadline and
idle clocks and its cancellation with every other provider, and measured against a boto3 client on
the same fake endpoint it costs a fraction of the time (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from urllib.parse import quote

import httpx
from pydantic_core import to_json

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse
from switchyard.api.stream import ChatCompletionChunk
from switchyard.providers.aws_sigv4 import SigV4Signer
from switchyard.providers.base import Target
from switchyard.providers.bedrock_embeddings import embed_on_bedrock
from switchyard.providers.bedrock_errors import classify_bedrock
from switchyard.providers.bedrock_stream import BedrockStream
from switchyard.providers.bedrock_wire import from_converse_response, to_converse_request
from switchyard.providers.classify import bad_response, classify_transport
from switchyard.providers.eventstream import EVENTSTREAM, open_event_stream
from switchyard.providers.http import Upstream, base_url, parsed_url, timeout_for

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_SERVICE = "bedrock"  # SigV4 signing name of the bedrock-runtime endpoints


def endpoint(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


class BedrockProvider:
    """Besides ProviderError, ``chat`` raises InvalidRequestError before any call when the request
    asks for what Converse cannot do (n > 1, image URLs, malformed tool-call arguments...)."""

    def __init__(self, client: Upstream, region: str, signer: SigV4Signer) -> None:
        """Raises ValueError for a region that is not one (the URL's host is made from it)."""
        if not _REGION.match(region):
            raise ValueError(f"bedrock: {region!r} is not an AWS region name")
        self._client = client
        self._default_base_url = endpoint(region)
        self._signer = signer

    @classmethod
    def for_region(cls, client: Upstream, region: str, environment: Mapping[str, str]) -> BedrockProvider:
        """The adapter with a signer for ``region`` and the credentials ``environment`` names
        (botocore's default chain when it names none). Raises ValueError as the constructor."""
        return cls(client, region, SigV4Signer(_SERVICE, region, environment))

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
        """Titan and Cohere embeddings over InvokeModel (:mod:`bedrock_embeddings`): one signed
        call per Titan input or per batch of Cohere inputs. Another model is ``model_not_found``
        without a call (the next deployment is tried); what Bedrock cannot take (token arrays,
        unsupported ``dimensions``) is an InvalidRequestError before any call."""
        url = self._url(target, "invoke")

        async def invoke(body: bytes) -> tuple[bytes, Mapping[str, str]]:
            headers = await self._headers(target, url, body, "application/json")
            return await self._post(target, url, body, headers)

        return await embed_on_bedrock(request, target, invoke)

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        body = to_json(to_converse_request(request))
        url = self._url(target, "converse")
        headers = await self._headers(target, url, body, "application/json")
        raw, answered = await self._post(target, url, body, headers)
        try:
            request_id = answered.get("x-amzn-requestid")
            return from_converse_response(json.loads(raw), target.upstream_model, request_id)
        except (ValueError, KeyError, TypeError) as exc:
            # The parse error quotes the body, which is not ours to show: only say what failed.
            raise bad_response("(not a Converse answer)") from exc

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        """ConverseStream's events as canonical chunks (see :mod:`bedrock_stream`)."""
        body = to_json(to_converse_request(request))
        url = self._url(target, "converse-stream")
        headers = await self._headers(target, url, body, EVENTSTREAM)
        translation = BedrockStream(f"chatcmpl-{uuid.uuid4().hex}", target.upstream_model)
        frames = open_event_stream(self._client, target, url, body, headers, classify=classify_bedrock)
        async with aclosing(frames):
            async for frame in frames:
                chunk = translation.feed(frame)
                if chunk is not None:
                    yield chunk
                if translation.done:
                    return
        translation.end()

    def _url(self, target: Target, action: str) -> str:
        # The model id is one path segment. "/" (in ARNs) is escaped; ":" is left as it is, since
        # the aiohttp transport would unescape "%3A" before sending, and AWS builds the canonical
        # request from the path as it receives it: the signature must cover the path as sent.
        model = quote(target.upstream_model, safe=":")
        return f"{base_url(target, self._default_base_url)}/model/{model}/{action}"

    async def _headers(self, target: Target, url: str, body: bytes, accept: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": accept}
        if target.headers:
            headers.update(target.headers)
        if target.api_key:  # a Bedrock API key: no signature
            return {**headers, "authorization": f"Bearer {target.api_key}"}
        return await self._signer.sign("POST", url, body, headers)

    async def _post(
        self, target: Target, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[bytes, Mapping[str, str]]:
        """The 2xx body and its headers (the request id, token counts); failures classified as
        Bedrock names them."""
        request = httpx.Request(
            "POST",
            parsed_url(url),
            content=body,
            headers=headers,
            extensions={"timeout": timeout_for(target).as_dict()},
        )
        try:
            response = await self._client.send(request)
            try:
                raw = await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise classify_transport(exc) from exc
        if response.status_code >= 300:
            raise classify_bedrock(response.status_code, raw, response.headers)
        return raw, response.headers
