"""``POST /v1/chat/completions``: parse, run the pipeline, answer in the OpenAI shape."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.core.call import answer_headers
from switchyard.http.deps import call_of, gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.http.sse import OpenAIWriter
from switchyard.http.streaming import SSEResponse

router = APIRouter(dependencies=[Depends(require_client_key)])


@router.post("/v1/chat/completions")
@router.post("/chat/completions", include_in_schema=False)
async def chat_completions(request: Request) -> Response:
    try:
        body = ChatRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    call = call_of(request, body)
    pipeline = gateway_of(request).pipeline
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        writer = OpenAIWriter(include_usage=include_usage)
        return SSEResponse(await pipeline.stream(call), writer)
    async with pipeline.answer(call) as answer:
        headers = answer_headers(call, answer.served_by)
        return Response(answer.body, media_type="application/json", headers=headers)
