"""Personas on the state table, one item per persona; a tenant's personas share a partition, so
listing them is one query.

Item shape::

    pk "persona#<tenant>"   sk "<name>"
    doc  the persona's settings (S, JSON: prompt, variables, model, parameters, guardrails,
         memory, last resort, flags)
    ca ua  created / updated (epoch s)

A persona's prompt is capped well below the 400 KB item limit by the admin API.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from switchyard.state.dynamodb import Item, Table, n, num, s, text
from switchyard.state.personas import PersonaLastResort, PersonaMemory, PersonaRecord

_DOC_FIELDS = (
    "system_prompt",
    "description",
    "variables",
    "model",
    "parameters",
    "guardrails",
    "memory",
    "last_resort",
    "published",
    "replace_system",
)


def _key(tenant: str, name: str) -> Item:
    return {"pk": s(f"persona#{tenant}"), "sk": s(name)}


class DynamoPersonaStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def get(self, tenant: str, name: str) -> PersonaRecord | None:
        item = await self._table.get(_key(tenant, name))
        return _record(tenant, item) if item is not None else None

    async def put(self, record: PersonaRecord) -> None:
        whole = asdict(record)
        doc = {name: whole[name] for name in _DOC_FIELDS}
        await self._table.put(
            {
                **_key(record.tenant, record.name),
                "doc": s(json.dumps(doc, separators=(",", ":"), ensure_ascii=False)),
                "ca": n(record.created_at),
                "ua": n(record.updated_at),
            }
        )

    async def delete(self, tenant: str, name: str) -> bool:
        return await self._table.delete(_key(tenant, name)) is not None

    async def list_personas(self, tenant: str) -> list[PersonaRecord]:
        items = await self._table.query("pk = :pk", {":pk": s(f"persona#{tenant}")})
        return sorted((_record(tenant, i) for i in items), key=lambda r: r.name)


def _record(tenant: str, item: Item) -> PersonaRecord:
    doc: dict[str, Any] = json.loads(text(item, "doc", "{}"))
    return PersonaRecord(
        tenant=tenant,
        name=text(item, "sk"),
        system_prompt=str(doc.get("system_prompt", "")),
        description=str(doc.get("description", "")),
        variables=dict(doc.get("variables") or {}),
        model=doc.get("model"),
        parameters=dict(doc.get("parameters") or {}),
        guardrails=tuple(doc.get("guardrails") or ()),
        memory=PersonaMemory(**(doc.get("memory") or {})),
        last_resort=PersonaLastResort(**(doc.get("last_resort") or {})),
        published=bool(doc.get("published", False)),
        replace_system=bool(doc.get("replace_system", False)),
        created_at=num(item, "ca"),
        updated_at=num(item, "ua"),
    )
