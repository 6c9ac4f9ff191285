"""The admin API's persona bodies to and from the stored records."""

from __future__ import annotations

from switchyard.api.personas import PersonaIn, PersonaLastResortIn, PersonaMemoryIn, PersonaOut
from switchyard.personas.select import MODEL_PREFIX
from switchyard.state.personas import PersonaLastResort, PersonaMemory, PersonaRecord


def record_of(
    body: PersonaIn, tenant: str, name: str, *, now: float, created_at: float | None
) -> PersonaRecord:
    memory, last = body.memory, body.last_resort
    return PersonaRecord(
        tenant=tenant,
        name=name,
        system_prompt=body.system_prompt,
        description=body.description,
        variables=dict(body.variables),
        model=body.model,
        parameters=dict(body.parameters),
        guardrails=tuple(dict.fromkeys(body.guardrails)),
        memory=PersonaMemory(
            memory.enabled, memory.max_tokens, memory.ttl_s, memory.overflow, memory.summary_model
        ),
        last_resort=PersonaLastResort(last.stale_if_error_s, last.template),
        published=body.published,
        replace_system=body.replace_system,
        created_at=now if created_at is None else created_at,
        updated_at=now,
    )


def out_of(record: PersonaRecord) -> PersonaOut:
    memory, last = record.memory, record.last_resort
    return PersonaOut(
        tenant=record.tenant,
        name=record.name,
        model_name=MODEL_PREFIX + record.name if record.published else None,
        system_prompt=record.system_prompt,
        description=record.description,
        variables=dict(record.variables),
        model=record.model,
        parameters=dict(record.parameters),
        guardrails=list(record.guardrails),
        memory=PersonaMemoryIn(
            enabled=memory.enabled,
            max_tokens=memory.max_tokens,
            ttl_s=memory.ttl_s,
            overflow=memory.overflow,
            summary_model=memory.summary_model,
        ),
        last_resort=PersonaLastResortIn(stale_if_error_s=last.stale_if_error_s, template=last.template),
        published=record.published,
        replace_system=record.replace_system,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
