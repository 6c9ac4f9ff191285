"""Web search answers for callers speaking Anthropic: what OpenAI's shape says (``url_citation``
annotations, Perplexity's ``search_results`` and search usage) in Anthropic's terms.

- Each cited source becomes a citation of the answer's text block, of Anthropic's web search type
  ``web_search_result_location`` (``url``, ``title``, ``cited_text``: the search result's snippet,
  at most 150 characters as Anthropic's; ``encrypted_index`` empty: there is no Anthropic search
  to point back into). The text stays one block with its ``[n]`` markers, so ``content[0].text``
  is still the whole answer. Streamed, the citations are ``citations_delta`` events on that block.
- The search results themselves, which Anthropic's Messages shape has no field for outside its
  own server tool blocks, ride as a ``search_results`` field of the message (and of the streamed
  ``message_delta`` event), as they do on the OpenAI route.
- The searches run are counted in ``usage.server_tool_use.web_search_requests``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from switchyard.api.chat import Usage

_CITED_TEXT_MAX = 150

# Perplexity's request options. OpenAI-dialect callers' unknown fields all travel upstream; an
# Anthropic caller's travel only when named here (others, such as Anthropic's own ``thinking``,
# would be refused by an OpenAI-dialect upstream).
SEARCH_OPTIONS = (
    "search_domain_filter",
    "search_recency_filter",
    "search_after_date_filter",
    "search_before_date_filter",
    "last_updated_after_filter",
    "last_updated_before_filter",
    "search_mode",
    "search_language_filter",
    "web_search_options",
    "return_images",
    "return_related_questions",
    "disable_search",
    "enable_search_classifier",
    "reasoning_effort",
)


def search_options(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Perplexity options among an Anthropic request's fields."""
    return {name: value for name, value in (extra or {}).items() if name in SEARCH_OPTIONS}


def anthropic_citations(annotations: Any, results: Any) -> list[dict[str, Any]]:
    """Anthropic citations for OpenAI ``url_citation`` annotations, one per source (in the order
    first cited)."""
    if not isinstance(annotations, list):
        return []
    snippets = {
        r.get("url"): r.get("snippet") for r in results or () if isinstance(r, Mapping) and r.get("url")
    }
    seen: set[str] = set()
    citations: list[dict[str, Any]] = []
    for annotation in annotations:
        cited = annotation.get("url_citation") if isinstance(annotation, Mapping) else None
        if not isinstance(cited, Mapping):
            continue
        url, title = cited.get("url"), cited.get("title")
        if not isinstance(url, str) or url in seen:
            continue
        seen.add(url)
        snippet = snippets.get(url)
        citations.append(
            {
                "type": "web_search_result_location",
                "url": url,
                "title": title if isinstance(title, str) else None,
                "cited_text": snippet[:_CITED_TEXT_MAX] if isinstance(snippet, str) else "",
                "encrypted_index": "",
            }
        )
    return citations


def search_results(extra: Mapping[str, Any] | None) -> list[Any] | None:
    """A completion's (or chunk's) ``search_results``, when it has any."""
    results = (extra or {}).get("search_results")
    return results if isinstance(results, list) and results else None


def server_tool_use(usage: Usage) -> dict[str, int] | None:
    """Anthropic's count of web searches for ``usage`` (None: no search was reported)."""
    if usage.num_search_queries:
        return {"web_search_requests": usage.num_search_queries}
    if usage.search_context_size:
        return {"web_search_requests": 1}
    return None


def citations_of(message_extra: Mapping[str, Any] | None, results: Sequence[Any] | None) -> list[Any]:
    """The Anthropic citations of an OpenAI message's annotations."""
    return anthropic_citations((message_extra or {}).get("annotations"), results)
