"""The OpenAI Chat Completions adapter: the canonical format goes upstream nearly as it came in."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.providers.base import Target
from switchyard.providers.classify import bad_response
from switchyard.providers.http import base_url, post_json

_BUFFERED_DROP = frozenset({"stream", "stream_options"})
OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider:
    """``POST {base}/chat/completions`` with a Bearer key. Subclasses adjust the body in ``_body``."""

    def __init__(self, client: httpx.AsyncClient, default_base_url: str = OPENAI_BASE_URL) -> None:
        self._client = client
        self._default_base_url = default_base_url

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        # chat() is the buffered call: a caller's stream flag is served by stream(), never here,
        # and OpenAI rejects stream_options without stream.
        body = request.upstream_json(target.upstream_model, self._drop | _BUFFERED_DROP)
        raw = await post_json(self._client, target, self._url(target), body, self._headers(target))
        return parse_completion(raw)

    def _url(self, target: Target) -> str:
        return f"{base_url(target, self._default_base_url)}/chat/completions"

    def _headers(self, target: Target) -> dict[str, str]:
        # Local servers (Ollama, vLLM) have no key: then no Authorization header at all.
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        if target.headers:
            headers.update(target.headers)
        return headers

    # Fields this upstream rejects; subclasses for other dialects extend it.
    _drop: frozenset[str] = frozenset()


def parse_completion(raw: bytes) -> ChatCompletion:
    """A 2xx body as a ChatCompletion; anything else is the upstream's fault (``bad_response``)."""
    try:
        completion = ChatCompletion.model_validate_json(raw)
    except ValidationError as exc:
        # The validation text quotes the body, which is not ours to show: only say what failed.
        raise bad_response("(not a chat completion)") from exc
    completion.keep_raw(raw)
    return completion
