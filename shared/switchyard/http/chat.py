"""``POST /v1/chat/completions``: validate, route, answer with the gateway's headers."""

from __future__ import annotations

from time import perf_counter

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.accounting import UsageRecord
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.cost import format_usd
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.http.sse import OpenAIWriter
from switchyard.http.streaming import stream_answer
from switchyard.routing.attempt import Outcome

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
    started = perf_counter()
    try:
        body = ChatRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise from_validation(exc) from exc
    gateway = gateway_of(request)
    # Cache lookup and the key's limits; the entry is settled by the accounting of its answer.
    entry = await gateway.gate.enter(body, request.state.key_id, request.headers, request.state.request_id)
    if entry.cached is not None:
        return Response(entry.cached.body, media_type="application/json", headers=entry.hit_headers())
    try:
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            writer = OpenAIWriter(include_usage=include_usage)
            return await stream_answer(request, body, writer, entry.headers())
        outcome = await gateway.router.chat(body, gateway.settings.request_timeout_s)
    except BaseException:
        entry.settle(None)  # nothing was served
        raise
    # The same accounting as streamed answers (usage, cost, sinks, the "request served" log).
    record = await gateway.accounting.record_completion(
        body, outcome, request_id=request.state.request_id, latency_s=perf_counter() - started
    )
    # An OpenAI-dialect upstream's validated JSON goes out as it came (no re-serialization).
    payload = outcome.completion.to_json()
    await entry.store(payload, outcome.candidate)
    return Response(
        payload, media_type="application/json", headers={**answer_headers(outcome, record), **entry.headers()}
    )


def answer_headers(outcome: Outcome[ChatCompletion], record: UsageRecord) -> dict[str, str]:
    cand = outcome.candidate
    return {
        "x-switchyard-provider": cand.provider_name,
        "x-switchyard-model": cand.deployment.model,
        "x-switchyard-deployment": cand.deployment_id,
        "x-switchyard-attempts": str(outcome.attempts),
        "x-switchyard-cost-usd": format_usd(record.cost_usd),
    }
