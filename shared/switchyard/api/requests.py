"""The requests the pipeline carries: a chat completion (every chat dialect is translated to
one at the edge) or an embeddings request. Stages and features that treat the two differently
tell them apart with ``isinstance``; the pipeline's call names its kind (``Call.kind``)."""

from __future__ import annotations

from typing import Literal

from switchyard.api.chat import ChatRequest
from switchyard.api.embeddings import EmbeddingRequest

type CanonicalRequest = ChatRequest | EmbeddingRequest
type RequestKind = Literal["chat", "embeddings"]


def kind_of(request: CanonicalRequest) -> RequestKind:
    return "embeddings" if isinstance(request, EmbeddingRequest) else "chat"
