"""Which models the caller's key may use (403 otherwise): before anything is looked up or spent.

A call addressed to a published persona by its model name (``persona/<name>``) passes when the
key may use that name, whatever model the persona sends it to: a key can be limited to personas.
"""

from __future__ import annotations

from switchyard.core.call import Call
from switchyard.core.stage import Entry


class AccessStage:
    name = "access"

    async def enter(self, call: Call) -> Entry | None:
        """Raises PermissionDeniedError for a model the key may not use."""
        identity = call.identity
        if identity is not None and not (identity.models and call.asked_model in identity.models):
            identity.check_model(call.request.model)
        return None
