"""Which models the caller's key may use (403 otherwise): before anything is looked up or spent."""

from __future__ import annotations

from switchyard.core.call import Call
from switchyard.core.stage import Entry


class AccessStage:
    name = "access"

    async def enter(self, call: Call) -> Entry | None:
        """Raises PermissionDeniedError for a model the key may not use."""
        if call.identity is not None:
            call.identity.check_model(call.request.model)
        return None
