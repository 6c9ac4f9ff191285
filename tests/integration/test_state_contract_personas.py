"""The ``PersonaStore`` contract, run over the memory adapter and the DynamoDB one on moto (the table
of template.yaml): every field round-trips, tenants are apart, replace, delete and list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from statekit import T0, instances
from switchyard.state.dynamodb_personas import DynamoPersonaStore
from switchyard.state.memory_personas import MemoryPersonaStore
from switchyard.state.personas import PersonaLastResort, PersonaMemory, PersonaRecord, PersonaStore

Backend = Callable[[], PersonaStore]

FULL = PersonaRecord(
    tenant="acme",
    name="support",
    system_prompt="You help {{ customer }} with Acme's products. Today is {{ today }}. ✓",
    description="the support bot",
    variables={"customer": "a customer"},
    model="gpt-4o-mini",
    parameters={"temperature": 0.2, "max_tokens": 300, "stop": ["END"], "response_format": {"type": "text"}},
    guardrails=("pii", "no-competitors"),
    memory=PersonaMemory(
        enabled=True, max_tokens=2000, ttl_s=3600, overflow="summarize", summary_model="cheap"
    ),
    last_resort=PersonaLastResort(stale_if_error_s=600, template="We are busy; try again soon."),
    published=True,
    replace_system=True,
    created_at=T0,
    updated_at=T0 + 5,
)


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from instances(request, MemoryPersonaStore, DynamoPersonaStore)


async def test_every_field_round_trips_between_instances(backend: Backend) -> None:
    assert await backend().get("acme", "support") is None
    await backend().put(FULL)
    assert await backend().get("acme", "support") == FULL
    bare = PersonaRecord(tenant="acme", name="bare", system_prompt="Be brief.")
    await backend().put(bare)
    assert await backend().get("acme", "bare") == bare


async def test_a_persona_belongs_to_its_tenant_only(backend: Backend) -> None:
    await backend().put(FULL)
    assert await backend().get("globex", "support") is None
    assert await backend().list_personas("globex") == []
    assert not await backend().delete("globex", "support")
    assert await backend().get("acme", "support") == FULL


async def test_put_replaces_delete_removes_and_list_is_sorted(backend: Backend) -> None:
    await backend().put(FULL)
    await backend().put(replace(FULL, name="billing", published=False))
    changed = replace(FULL, system_prompt="New words.", guardrails=(), updated_at=T0 + 9)
    await backend().put(changed)
    assert [p.name for p in await backend().list_personas("acme")] == ["billing", "support"]
    assert await backend().get("acme", "support") == changed
    assert await backend().delete("acme", "billing")
    assert not await backend().delete("acme", "billing")
    assert await backend().list_personas("acme") == [changed]
