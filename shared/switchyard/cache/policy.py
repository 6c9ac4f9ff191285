"""Whether and how one request uses the cache: on by default only for deterministic requests
(chat with ``temperature: 0`` or a ``seed``; every embeddings request), controlled per request by
``cache: {ttl, no-cache, no-store}`` in the body or the ``x-switchyard-cache-ttl`` /
``x-switchyard-cache: no-cache|no-store`` headers.

A streamed request uses the same entries as a buffered one (the key ignores the streaming flags):
a hit is replayed as a stream, and a complete stream is stored.

``no-cache`` skips the lookup but stores the fresh answer; ``no-store`` never writes (a lookup may
still hit); an explicit TTL opts a non-deterministic request in; a TTL of 0 stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.api.chat import ChatRequest
from switchyard.api.requests import CanonicalRequest
from switchyard.cache.keys import cache_key
from switchyard.cache.purge import MAX_ENTRY_AGE_S, scopes_of
from switchyard.errors import InvalidRequestError

MAX_TTL_S = MAX_ENTRY_AGE_S
HEADER = "x-switchyard-cache"
TTL_HEADER = "x-switchyard-cache-ttl"


@dataclass(frozen=True, slots=True)
class CachePlan:
    key: str | None = None  # None: the request does not use the cache
    lookup: bool = False
    store: bool = False
    ttl_s: int = 0
    scopes: tuple[str, ...] = ()  # the purge scopes its entry falls under (cache.purge)
    at: float = 0.0  # when the request began: an entry purged after it is stale


SKIP = CachePlan()


def plan_for(
    request: CanonicalRequest,
    namespace: str,
    headers: Mapping[str, str],
    *,
    default_ttl_s: int,
    tenant: str = "",
    now: float = 0.0,
) -> CachePlan:
    """``namespace`` is the caller's key id. Raises InvalidRequestError for a malformed
    ``x-switchyard-cache-ttl``."""
    control = request.cache
    no_cache, no_store = caller_directives(request, headers)
    ttl = control.ttl if control is not None and control.ttl is not None else _header_ttl(headers)
    if ttl is None and not _deterministic(request):
        return SKIP
    lookup = not no_cache
    store = not no_store and ttl != 0
    if not (lookup or store):
        return SKIP
    key = cache_key(request, namespace)
    scopes = scopes_of(tenant, namespace, request.model)
    return CachePlan(key, lookup, store, default_ttl_s if ttl is None else ttl, scopes, now)


def caller_directives(
    request: CanonicalRequest, headers: Mapping[str, str], names: tuple[str, ...] = (HEADER,)
) -> tuple[bool, bool]:
    """(no-cache, no-store) as the caller asked: in the body's ``cache`` or among the
    comma-separated directives of the headers ``names``."""
    control = request.cache
    no_cache, no_store = bool(control and control.no_cache), bool(control and control.no_store)
    for name in names:
        value = headers.get(name)
        if value:  # usually absent: nothing to split
            directives = {d.strip().lower() for d in value.split(",")}
            no_cache = no_cache or "no-cache" in directives
            no_store = no_store or "no-store" in directives
    return no_cache, no_store


def _deterministic(request: CanonicalRequest) -> bool:
    """The same request gets the same answer: an embedding always, a chat answer only when
    sampling is off or seeded."""
    if isinstance(request, ChatRequest):
        return request.temperature == 0 or request.seed is not None
    return True


def _header_ttl(headers: Mapping[str, str]) -> int | None:
    raw = headers.get(TTL_HEADER)
    if raw is None:
        return None
    try:
        ttl = int(raw.strip())
    except ValueError:
        ttl = -1
    if not 0 <= ttl <= MAX_TTL_S:
        raise InvalidRequestError(
            f"`{TTL_HEADER}` must be a whole number of seconds from 0 to {MAX_TTL_S}.",
            param=TTL_HEADER,
            code="invalid_cache_ttl",
        )
    return ttl
