"""``POST /v1/embeddings``: parse, run the pipeline (the buffered use case), answer the OpenAI
embeddings list. Routing, failover, the cache, limits, budgets, cost and usage are the same
stages as for chat."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.embeddings import EmbeddingRequest
from switchyard.core.call import answer_headers
from switchyard.http.deps import call_of, gateway_of, require_client_key
from switchyard.http.errors import from_validation

router = APIRouter(dependencies=[Depends(require_client_key)])


@router.post("/v1/embeddings")
@router.post("/embeddings", include_in_schema=False)
async def embeddings(request: Request) -> Response:
    try:
        body = EmbeddingRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    call = call_of(request, body)
    async with gateway_of(request).pipeline.answer(call) as answer:
        headers = answer_headers(call, answer.served_by)
        return Response(answer.body, media_type="application/json", headers=headers)
