"""Cache keys: sha256 of the normalized request within a tenant's namespace.

Normalized means: every field that can change the answer (model, messages, all generation
parameters, unknown pass-through fields too), none that cannot (``user``, ``metadata``, the
``cache`` control itself, and the streaming flags: a streamed and a buffered request ask for the
same answer), unset fields dropped, keys sorted, no whitespace. ``n: 1`` is the default and is
dropped too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from switchyard.api.chat import ChatRequest

_IGNORED = frozenset({"user", "metadata", "cache", "stream", "stream_options"})


def normalized(request: ChatRequest) -> dict[str, Any]:
    body = request.model_dump(mode="json", exclude_none=True, exclude=set(_IGNORED), by_alias=True)
    if body.get("n") == 1:
        del body["n"]
    return body


def cache_key(request: ChatRequest, namespace: str) -> str:
    canonical = json.dumps(normalized(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(namespace.encode())
    digest.update(b"\x00")
    digest.update(canonical.encode())
    return digest.hexdigest()
