"""``POST /v1/chat/completions``: validate, route, answer with the gateway's headers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.http.sse import OpenAIWriter
from switchyard.http.streaming import stream_answer
from switchyard.serving import serve_chat

router = APIRouter(dependencies=[Depends(require_client_key)])

_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ChatRequest.model_json_schema(ref_template="#/{model}")}},
    }
}


@router.post("/v1/chat/completions", openapi_extra=_OPENAPI_BODY)
@router.post("/chat/completions", include_in_schema=False)
async def chat_completions(request: Request) -> Response:
    try:
        body = ChatRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    gateway = gateway_of(request)
    state = request.state
    if not body.stream:
        served = await serve_chat(gateway, body, state.key_id, state.request_id, request.headers)
        return Response(served.body, media_type="application/json", headers=served.headers)
    # Cache lookup and the key's limits; the entry is settled by the accounting of its stream.
    entry = await gateway.gate.enter(body, state.key_id, request.headers, state.request_id)
    if entry.cached is not None:
        return Response(entry.cached.body, media_type="application/json", headers=entry.hit_headers())
    try:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        writer = OpenAIWriter(include_usage=include_usage)
        return await stream_answer(request, entry.request, writer, entry.headers())
    except BaseException:
        entry.settle(None)  # nothing was served
        raise
