"""``/v1/conversations/{id}``: what the gateway remembers of one of the caller's tenant's
conversations (``GET``), and forgetting it (``DELETE``). Another tenant's conversation of the same
id is a different one: the caller never sees it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from switchyard.api.conversations import ConversationOut
from switchyard.errors import InvalidRequestError, NotFoundError
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.memory import valid_id

router = APIRouter(dependencies=[Depends(require_client_key)], tags=["conversations"])


@router.get("/v1/conversations/{conversation_id}")
async def show_conversation(conversation_id: str, request: Request) -> ConversationOut:
    tenant = _tenant_of(request, conversation_id)
    conversation = await gateway_of(request).memory.show(tenant, conversation_id)
    if conversation is None:
        raise _not_found(conversation_id)
    messages: list[dict[str, Any]] = [json.loads(t.message) for t in conversation.turns]
    return ConversationOut(
        id=conversation_id,
        summary=conversation.summary or None,
        messages=messages,
        tokens=conversation.tokens,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        expires_at=conversation.expires_at,
    )


@router.delete("/v1/conversations/{conversation_id}", status_code=204)
async def forget_conversation(conversation_id: str, request: Request) -> Response:
    tenant = _tenant_of(request, conversation_id)
    if not await gateway_of(request).memory.forget(tenant, conversation_id):
        raise _not_found(conversation_id)
    return Response(status_code=204)


def _tenant_of(request: Request, conversation_id: str) -> str:
    if not valid_id(conversation_id):
        raise InvalidRequestError(
            "A conversation id is 1 to 128 letters, digits or _ . : @ -.", param="conversation_id",
            code="invalid_conversation_id",
        )  # fmt: skip
    tenant: str = request.state.identity.tenant
    return tenant


def _not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(f"No conversation {conversation_id!r} is remembered.", code="conversation_not_found")
