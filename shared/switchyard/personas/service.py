"""The tenants' personas through a warm cache, and the checks a persona passes before it is stored.

A container trusts its copy of a persona for ``ttl_s`` (a name that does not exist for a few
seconds), so a request that names a persona costs no state read in a warm container; the admin
API's changes drop this container's copy at once, other containers see them within ``ttl_s``.
When the store cannot be read a copy is used past its TTL; a persona never seen is a 503 (a
call must not be answered without the persona it asked for).
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.config.routing import MemoryConfig
from switchyard.personas.apply import PARAMETERS
from switchyard.personas.select import MODEL_PREFIX
from switchyard.state.personas import PersonaRecord, PersonaStore
from switchyard.state.warm import WarmCache

_NEGATIVE_TTL_S = 5.0


class Personas:
    def __init__(self, store: PersonaStore, *, ttl_s: float = 30.0, clock: Callable[[], float] = monotonic):
        self.store = store
        self._records = WarmCache[tuple[str, str], PersonaRecord](
            lambda key: self.store.get(*key),
            what="persona",
            ttl_s=ttl_s,
            negative_ttl_s=min(ttl_s, _NEGATIVE_TTL_S),
            clock=clock,
        )

    async def get(self, tenant: str, name: str) -> PersonaRecord | None:
        """The tenant's persona (None: it has none of that name). Raises StateUnavailableError
        when the store cannot be read and this container has never seen it."""
        return await self._records.get((tenant, name))

    async def put(self, record: PersonaRecord) -> None:
        await self.store.put(record)
        self.forget(record.tenant, record.name)

    async def delete(self, tenant: str, name: str) -> bool:
        deleted = await self.store.delete(tenant, name)
        self.forget(tenant, name)
        return deleted

    async def list_personas(self, tenant: str) -> list[PersonaRecord]:
        return await self.store.list_personas(tenant)

    def forget(self, tenant: str, name: str) -> None:
        self._records.forget((tenant, name))


def problems(record: PersonaRecord, known_model: Callable[[str], bool], memory: MemoryConfig) -> list[str]:
    """What is wrong with ``record`` (empty: it may be stored): unknown parameters or models, a
    published persona without a model, summaries without a model to write them."""
    found: list[str] = []
    unknown = sorted(set(record.parameters) - PARAMETERS)
    if unknown:
        found.append(
            f"parameters: {', '.join(unknown)} cannot be set by a persona (allowed: {sorted(PARAMETERS)})"
        )
    else:
        try:
            ChatRequest.model_validate(
                {"model": "m", "messages": [{"role": "user", "content": "."}], **record.parameters}
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            found.append(f"parameters.{'.'.join(map(str, first['loc']))}: {first['msg']}")
    if record.published and not record.model:
        found.append("model: a published persona needs the model its calls go to")
    summary_model = record.memory.summary_model or memory.summary_model
    for field, model in (("model", record.model), ("memory.summary_model", record.memory.summary_model)):
        if model is not None and model.startswith(MODEL_PREFIX):
            found.append(f"{field}: a persona's model is a model, not another persona ({model!r})")
        elif model is not None and not known_model(model):
            found.append(f"{field}: unknown model {model!r}")
    if (record.memory.overflow or memory.overflow) == "summarize" and not summary_model:
        found.append("memory.overflow: 'summarize' needs a summary_model (the persona's or the config's)")
    return found
