"""The caller's key limits (requests, tokens, concurrency) as a stage: 429 with ``Retry-After``
and ``x-ratelimit-*`` over them; the grant settles with the answer's real tokens when the call
leaves (the provider's, even for an answer a later stage refused; none when no provider
answered), which frees its concurrency slot too."""

from __future__ import annotations

from switchyard.core.call import Call
from switchyard.core.stage import Entry
from switchyard.limits.enforce import KeyLimits
from switchyard.limits.limiter import Grant


class KeyLimitsStage:
    name = "limits"

    def __init__(self, limits: KeyLimits) -> None:
        self.limits = limits  # also read by the admin and health views

    async def enter(self, call: Call) -> Entry | None:
        """Raises RateLimitError over the key's limits."""
        key_id, identity = call.key_id, call.identity
        if identity is not None and identity.limits is not None:
            self.limits.use(key_id, identity.limits)
        # A cached answer costs the key one request and no tokens.
        tokens = 0 if call.answer is not None else self.limits.estimate(key_id, call.request)
        grant = await self.limits.admit(key_id, tokens)
        call.headers.update(self.limits.headers(key_id))
        return _Settle(grant)


class _Settle(Entry):
    __slots__ = ("_grant",)

    def __init__(self, grant: Grant) -> None:
        self._grant = grant

    async def leave(self, call: Call, served: bool) -> None:
        record = call.record
        self._grant.settle(record.tokens if record is not None else 0)
