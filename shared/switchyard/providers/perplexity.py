"""Perplexity's Sonar models: web search answers in OpenAI's dialect, their sources included.

Requests go out as for any OpenAI-compatible upstream, Perplexity's own options included
(``search_domain_filter``, ``search_recency_filter``, ``web_search_options``, ... travel as the
caller sent them: docs/providers.md lists them). Answers keep Perplexity's ``citations`` and
``search_results`` and gain OpenAI's ``annotations`` (:mod:`switchyard.providers.citations`); a
stream gets them in a chunk of their own right after its finishing chunk. Usage says which search
context size was billed; when Perplexity leaves it out, the size the request asked for is filled
in, so the per-request search fee is priced right.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from switchyard.api.chat import ChatCompletion, ChatRequest, Usage
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta
from switchyard.providers.base import Target
from switchyard.providers.citations import requested_context_size, url_citations, with_annotations
from switchyard.providers.http import Upstream
from switchyard.providers.openai import parse_completion
from switchyard.providers.openai_compatible import UNSUPPORTED, OpenAICompatibleProvider

PERPLEXITY_BASE_URL = "https://api.perplexity.ai"


class PerplexityProvider(OpenAICompatibleProvider):
    """``POST {base}/chat/completions``. Perplexity reports usage in every stream by itself, so
    ``stream_options`` is never sent; ``stream_mode`` is not either (its ``concise`` mode is not
    OpenAI's chunk shape)."""

    def __init__(self, client: Upstream, default_base_url: str = PERPLEXITY_BASE_URL) -> None:
        super().__init__(client, default_base_url, stream_usage=False)

    async def chat(self, request: ChatRequest, target: Target) -> ChatCompletion:
        completion = await super().chat(request, target)
        raw = completion.raw_json
        data: Any = json.loads(raw) if raw is not None else None
        if isinstance(data, dict) and with_annotations(data):
            completion = parse_completion(json.dumps(data, ensure_ascii=False).encode())
        _fill_context_size(completion.usage, request)
        return completion

    async def stream(self, request: ChatRequest, target: Target) -> AsyncGenerator[ChatCompletionChunk]:
        text: list[str] = []
        citations: Any = None
        results: Any = None
        async with aclosing(super().stream(request, target)) as chunks:
            async for chunk in chunks:
                extra = chunk.model_extra or {}
                citations = extra.get("citations") or citations
                results = extra.get("search_results") or results
                first = next((c for c in chunk.choices if c.index == 0), None)
                if first is not None and first.delta.content:
                    text.append(first.delta.content)
                _fill_context_size(chunk.usage, request)
                yield chunk
                if first is not None and first.finish_reason and isinstance(citations, list):
                    found = url_citations("".join(text), citations, results or [])
                    if found:
                        yield _annotations_chunk(chunk, found)

    _drop = UNSUPPORTED | {"stream_mode"}


def _fill_context_size(usage: Usage | None, request: ChatRequest) -> None:
    if usage is not None and usage.search_context_size is None:
        usage.search_context_size = requested_context_size(request)


def _annotations_chunk(after: ChatCompletionChunk, found: list[dict[str, Any]]) -> ChatCompletionChunk:
    delta = Delta.model_validate({"annotations": found})
    return ChatCompletionChunk(
        id=after.id, created=after.created, model=after.model, choices=[ChunkChoice(delta=delta)]
    )
