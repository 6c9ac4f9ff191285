"""Any OpenAI-dialect upstream at its own base URL: Gemini's OpenAI endpoint, Grok, Perplexity, Groq,
Ollama, vLLM, Cloudflare Workers AI, Azure OpenAI."""

from __future__ import annotations

from switchyard.providers.http import Upstream
from switchyard.providers.openai import OpenAIProvider

# OpenAI-only fields that other upstreams answer with a 400 ("Unknown name ..." from Gemini,
# "property ... is unsupported" from Groq and Perplexity): ``metadata`` and ``store`` belong to
# OpenAI's stored completions (and ``metadata`` carries Switchyard's own mock_* keys), so they are
# dropped. ``stream_options`` is dropped for every buffered call in OpenAIProvider.chat.
UNSUPPORTED = frozenset({"metadata", "store"})


class OpenAICompatibleProvider(OpenAIProvider):
    """OpenAIProvider with a required base URL and a body without OpenAI-only fields (the key is
    optional in both)."""

    def __init__(self, client: Upstream, default_base_url: str, *, stream_usage: bool = True) -> None:
        super().__init__(client, default_base_url, stream_usage=stream_usage)

    _drop = UNSUPPORTED
    # Ollama, Gemini's endpoint and others answer floats only (or refuse the option): base64 is
    # encoded here from the floats.
    _native_base64 = False
