"""Which conversation a call continues: the header ``x-switchyard-conversation``, or
``metadata.conversation`` (jobs, SDKs that cannot set headers). Ids are the caller's own and
scoped to its tenant."""

from __future__ import annotations

import re
from collections.abc import Mapping

from switchyard.api.chat import ChatRequest
from switchyard.errors import InvalidRequestError

HEADER = "x-switchyard-conversation"
METADATA = "conversation"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
_ID = re.compile(ID_PATTERN)


def conversation_of(request: ChatRequest, headers: Mapping[str, str]) -> str | None:
    """The conversation id, if any. Raises InvalidRequestError for a malformed id or two
    different ones."""
    named = []
    if (header := headers.get(HEADER)) is not None:
        named.append((HEADER, header.strip()))
    if request.metadata and METADATA in request.metadata:
        named.append(("metadata.conversation", request.metadata[METADATA].strip()))
    for where, cid in named:
        if not _ID.match(cid):
            raise InvalidRequestError(
                f"`{where}` must be a conversation id: 1 to 128 letters, digits or _ . : @ -.",
                param=where,
                code="invalid_conversation_id",
            )
    if len({cid for _, cid in named}) > 1:
        raise InvalidRequestError(
            "The request names two different conversations.", param="metadata.conversation",
            code="invalid_conversation_id",
        )  # fmt: skip
    return named[0][1] if named else None


def valid_id(conversation_id: str) -> bool:
    return bool(_ID.match(conversation_id))


def without_conversation(request: ChatRequest) -> ChatRequest:
    """``request`` without ``metadata.conversation``: it is for the gateway, not the provider."""
    metadata = request.metadata
    if not metadata or METADATA not in metadata:
        return request
    kept = {k: v for k, v in metadata.items() if k != METADATA}
    return request.model_copy(update={"metadata": kept or None})
