"""``POST /v1/messages``: the Anthropic Messages API, served by any provider.

The request is translated to the canonical one (:mod:`switchyard.providers.anthropic_inbound`),
routed as every request is, and answered in Anthropic's shapes: a message, or its event stream.
Errors on this path get Anthropic's error shape (``http.errors.error_dialect``).
"""

from __future__ import annotations

from time import perf_counter

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.anthropic import AnthropicRequest
from switchyard.api.chat import ChatCompletion
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.http.sse import AnthropicWriter
from switchyard.http.streaming import stream_answer
from switchyard.providers.anthropic_inbound import anthropic_response_from_chat, chat_request_from_anthropic
from switchyard.serving import answer_headers

router = APIRouter(dependencies=[Depends(require_client_key)])

_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": AnthropicRequest.model_json_schema(ref_template="#/{model}")}
        },
    }
}


@router.post("/v1/messages", openapi_extra=_OPENAPI_BODY)
async def messages(request: Request) -> Response:
    started = perf_counter()
    try:
        body = AnthropicRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    chat = chat_request_from_anthropic(body)
    gateway = gateway_of(request)
    request_id: str = request.state.request_id
    # The same gate as /v1/chat/completions: the cache holds canonical answers, whatever the dialect.
    entry = await gateway.gate.enter(chat, request.state.key_id, request.headers, request_id)
    if entry.cached is not None:
        cached = anthropic_response_from_chat(ChatCompletion.model_validate_json(entry.cached.body))
        return Response(cached.model_dump_json(), media_type="application/json", headers=entry.hit_headers())
    chat = entry.request  # the caller's, or its downgrade when a budget is spent
    try:
        if chat.stream:
            writer = AnthropicWriter(fallback_id=request_id, model=body.model)
            return await stream_answer(request, chat, writer, entry.headers())
        outcome = await gateway.router.chat(chat, gateway.settings.request_timeout_s)
    except BaseException:
        entry.settle(None)  # nothing was served
        raise
    record = await gateway.accounting.record_completion(
        chat, outcome, request_id=request_id, latency_s=perf_counter() - started
    )
    answer = anthropic_response_from_chat(outcome.completion)
    await entry.store(outcome.completion.to_json(), outcome.candidate)
    headers = {**answer_headers(outcome, record), **entry.headers()}
    return Response(answer.model_dump_json(), media_type="application/json", headers=headers)
