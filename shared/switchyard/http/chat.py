"""``POST /v1/chat/completions``: validate, route, answer with the gateway's headers."""

from __future__ import annotations

from time import perf_counter

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.cost import cost_usd, format_usd
from switchyard.errors import InvalidRequestError
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.observability import logger
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
    if body.stream:
        raise InvalidRequestError(
            "Streaming (`stream: true`) is not available on this gateway yet; send the request without it.",
            param="stream",
            code="stream_unsupported",
        )
    gateway = gateway_of(request)
    outcome = await gateway.router.chat(body, gateway.settings.request_timeout_s)
    headers = answer_headers(outcome)
    # Debug level: at one line per request the logs would cost more than the metrics that carry
    # the same numbers; errors are logged at info by the exception handler.
    logger.debug(
        "request served",
        extra={
            "request_id": request.state.request_id,
            "model": body.model,
            "deployment": outcome.candidate.deployment_id,
            "attempts": outcome.attempts,
            "cost_usd": headers["x-switchyard-cost-usd"],
            "latency_ms": round((perf_counter() - started) * 1000, 3),
        },
    )
    return Response(
        outcome.completion.model_dump_json(exclude_none=True), media_type="application/json", headers=headers
    )


def answer_headers(outcome: Outcome[ChatCompletion]) -> dict[str, str]:
    cand = outcome.candidate
    usage = outcome.completion.usage
    return {
        "x-switchyard-provider": cand.provider_name,
        "x-switchyard-model": cand.deployment.model,
        "x-switchyard-deployment": cand.deployment_id,
        "x-switchyard-attempts": str(outcome.attempts),
        "x-switchyard-cache": "skip",
        "x-switchyard-cost-usd": format_usd(cost_usd(usage, cand.deployment.price)),
    }
