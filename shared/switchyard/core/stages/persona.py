"""Personas as a stage: a call that names a persona (``x-switchyard-persona``, ``metadata.persona``
or the model ``persona/<name>``) is sent with the persona's system prompt and defaults, speaks as
the persona to the stages after it (memory, guardrails, last resort), and says so in
``x-switchyard-persona``. A persona of another tenant is as unknown as one that does not exist
(404), and so is an unpublished one called by its model name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from time import time

from switchyard.api.chat import ChatRequest
from switchyard.core.call import Call
from switchyard.core.stage import Entry
from switchyard.errors import NotFoundError
from switchyard.personas import HEADER, Personas, applied, chosen_persona


class PersonaStage:
    name = "persona"

    def __init__(self, personas: Personas, *, clock: Callable[[], float] = time) -> None:
        self._personas = personas
        self._clock = clock  # wall time: the prompt's {{ today }}

    async def enter(self, call: Call) -> Entry | None:
        """Raises InvalidRequestError (a malformed or conflicting persona name, a missing prompt
        variable), NotFoundError (no such persona for the caller's tenant), StateUnavailableError
        (the personas cannot be read)."""
        if not isinstance(call.request, ChatRequest):
            return None  # a persona is a chat's system prompt: embeddings have none
        chosen = chosen_persona(call.request, call.request_headers)
        if chosen is None:
            return None
        record = await self._personas.get(call.tenant, chosen.name)
        if record is None or (chosen.by_model and not record.published):
            raise NotFoundError(
                f"The persona {chosen.name!r} does not exist.", param="model" if chosen.by_model else HEADER,
                code="persona_not_found",
            )  # fmt: skip
        today = dt.datetime.fromtimestamp(self._clock(), dt.UTC).date().isoformat()
        call.request = applied(record, chosen, call.request, today=today)
        call.persona = record
        call.guardrails.extend(p for p in record.guardrails if p not in call.guardrails)
        call.headers[HEADER] = record.name
        return None
