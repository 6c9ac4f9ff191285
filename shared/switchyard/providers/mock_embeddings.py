"""The mock provider's embeddings: a deterministic unit vector per input.

The same input (text or token array) under the same upstream model always gets the same vector,
and different inputs get unrelated ones: enough for a demo, a cache test or a benchmark, not for
semantic search. A vector has ``dimensions`` components (default :data:`DEFAULT_DIMENSIONS`, the
size of ``text-embedding-3-small``), rounded to float32 so that its float and base64 forms are the
same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct

from switchyard.api.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage
from switchyard.providers.base import Target

DEFAULT_DIMENSIONS = 1536


def mock_embeddings(request: EmbeddingRequest, target: Target) -> EmbeddingResponse:
    dimensions = request.dimensions or DEFAULT_DIMENSIONS
    as_text = request.format == "base64"
    data = []
    for index, item in enumerate(request.inputs):
        packed = _vector(item, target.upstream_model, dimensions)
        vector: list[float] | str = (
            base64.b64encode(packed).decode("ascii")
            if as_text
            else list(struct.unpack(f"<{dimensions}f", packed))
        )
        data.append(Embedding(index=index, embedding=vector))
    tokens = request.estimated_tokens()
    usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)
    return EmbeddingResponse(data=data, model=target.upstream_model, usage=usage)


def _vector(item: str | list[int], model: str, dimensions: int) -> bytes:
    """The input's unit vector as little-endian float32 bytes."""
    seed = hashlib.blake2b(digest_size=32)
    seed.update(model.encode())
    seed.update(b"\x00t" if isinstance(item, str) else b"\x00i")
    seed.update(item.encode() if isinstance(item, str) else struct.pack(f"<{len(item)}Q", *item))
    raw = hashlib.shake_256(seed.digest()).digest(2 * dimensions)
    values = [v / 32767.5 - 1.0 for v in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(math.fsum(v * v for v in values)) or 1.0
    return struct.pack(f"<{dimensions}f", *(v / norm for v in values))
