"""Cache keys: sha256 of the normalized request within a tenant's namespace.

Normalized means: every field that can change the answer (model, messages or inputs, all
generation parameters, unknown pass-through fields too), none that cannot (``user``,
``metadata``, the ``cache`` control itself, and the streaming flags: a streamed and a buffered
request ask for the same answer), unset fields dropped, keys sorted, no whitespace. ``n: 1`` is
the default and is dropped too; an embeddings request's ``encoding_format`` defaults to "float"
(the answer's bytes differ by it). Embeddings keys are hashed under their kind as well, so no
chat body can share one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from switchyard.api.embeddings import EmbeddingRequest
from switchyard.api.requests import CanonicalRequest

_IGNORED = frozenset({"user", "metadata", "cache", "stream", "stream_options"})
_EMBEDDINGS = b"embeddings\x00"


def normalized(request: CanonicalRequest) -> dict[str, Any]:
    body = request.model_dump(mode="json", exclude_none=True, exclude=set(_IGNORED), by_alias=True)
    if isinstance(request, EmbeddingRequest):
        body["encoding_format"] = request.format
    elif body.get("n") == 1:
        del body["n"]
    return body


def cache_key(request: CanonicalRequest, namespace: str) -> str:
    canonical = json.dumps(normalized(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(namespace.encode())
    digest.update(b"\x00")
    if isinstance(request, EmbeddingRequest):
        digest.update(_EMBEDDINGS)
    digest.update(canonical.encode())
    return digest.hexdigest()
