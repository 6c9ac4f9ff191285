"""The in-memory ``PersonaStore``: one process's personas."""

from __future__ import annotations

from switchyard.state.personas import PersonaRecord


class MemoryPersonaStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], PersonaRecord] = {}

    async def get(self, tenant: str, name: str) -> PersonaRecord | None:
        return self._records.get((tenant, name))

    async def put(self, record: PersonaRecord) -> None:
        self._records[(record.tenant, record.name)] = record

    async def delete(self, tenant: str, name: str) -> bool:
        return self._records.pop((tenant, name), None) is not None

    async def list_personas(self, tenant: str) -> list[PersonaRecord]:
        return sorted((r for (t, _), r in self._records.items() if t == tenant), key=lambda r: r.name)
