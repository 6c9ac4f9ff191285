"""Web search answers in OpenAI's shape: the sources a text cites as ``url_citation`` annotations.

Perplexity answers with numbered markers in the text (``... 400 billion stars[1][3].``) and
top-level ``citations`` (the URLs the markers count into, from 1) and ``search_results`` (title,
URL, date, snippet of each). OpenAI's search models say the same with ``message.annotations``:
``{"type": "url_citation", "url_citation": {"start_index", "end_index", "url", "title"}}``, the
indices spanning the cited text in the message. Here each marker becomes one annotation spanning
the marker itself (the text before it is not delimited), titled from the search result with the
same URL. Perplexity's own fields are kept as they came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from switchyard.api.chat import ChatRequest

_MARKER = re.compile(r"\[(\d{1,3})\]")
SEARCH_CONTEXT_SIZES = frozenset({"low", "medium", "high"})


def url_citations(
    content: str, citations: Sequence[Any], results: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """One ``url_citation`` per ``[n]`` marker of ``content`` whose n names a citation."""
    urls = [c if isinstance(c, str) else "" for c in citations]
    titles = {r.get("url"): r.get("title") for r in results if isinstance(r, Mapping)}
    found: list[dict[str, Any]] = []
    for match in _MARKER.finditer(content):
        number = int(match.group(1))
        if not 1 <= number <= len(urls) or not urls[number - 1]:
            continue
        url = urls[number - 1]
        title = titles.get(url)
        citation = {
            "start_index": match.start(),
            "end_index": match.end(),
            "url": url,
            "title": title if isinstance(title, str) else url,
        }
        found.append({"type": "url_citation", "url_citation": citation})
    return found


def with_annotations(data: dict[str, Any]) -> bool:
    """Add ``annotations`` to every choice's message of a chat completion (a parsed JSON object,
    changed in place) from its ``citations`` and ``search_results``; True if any was added."""
    citations = data.get("citations")
    if not isinstance(citations, list) or not citations:
        return False
    results = data.get("search_results")
    results = results if isinstance(results, list) else []
    added = False
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or message.get("annotations"):
            continue
        content = message.get("content")
        found = url_citations(content, citations, results) if isinstance(content, str) else []
        if found:
            message["annotations"] = found
            added = True
    return added


def requested_context_size(request: ChatRequest) -> str:
    """The search context size ``request`` asked for (``web_search_options.search_context_size``),
    else Perplexity's default, ``low``."""
    extra = request.model_extra or {}
    options = extra.get("web_search_options")
    size = options.get("search_context_size") if isinstance(options, dict) else None
    return size if size in SEARCH_CONTEXT_SIZES else "low"
