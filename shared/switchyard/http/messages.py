"""``POST /v1/messages``: the Anthropic Messages API, served by any provider.

The request is translated to the canonical one at this edge, runs the same pipeline as every
request, and is answered in Anthropic's shapes: a message, or its event stream. Errors on this
path get Anthropic's error shape (``http.errors.error_dialect``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.anthropic import AnthropicRequest
from switchyard.core.call import answer_headers
from switchyard.dialects.anthropic import anthropic_response_from_chat, chat_request_from_anthropic
from switchyard.http.deps import call_of, gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.http.sse import AnthropicWriter
from switchyard.http.streaming import SSEResponse

router = APIRouter(dependencies=[Depends(require_client_key)])


@router.post("/v1/messages")
async def messages(request: Request) -> Response:
    try:
        body = AnthropicRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    call = call_of(request, chat_request_from_anthropic(body))
    pipeline = gateway_of(request).pipeline
    if body.stream:
        writer = AnthropicWriter(fallback_id=call.request_id, model=body.model)
        return SSEResponse(await pipeline.stream(call), writer)
    async with pipeline.answer(call) as answer:
        message = anthropic_response_from_chat(answer.parsed())
        headers = answer_headers(call, answer.served_by)
        return Response(message.model_dump_json(), media_type="application/json", headers=headers)
