"""What a request passes before routing (DESIGN §3 steps 4-5): the cache, then its key's limits.

:meth:`Gate.enter` looks the request up in the cache (a hit is answered without an upstream call
and costs the key one request, no tokens), then admits it against the client key's limits (429
with ``Retry-After`` and ``x-ratelimit-*`` over them). The admitted request's tokens are reconciled
when its usage is accounted: the gate is an :class:`~switchyard.accounting.Accounting` sink, so
buffered and streamed answers settle the same way; a request that fails before any answer is
settled by its route with :meth:`Entry.settle`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import monotonic

from switchyard.accounting import UsageRecord
from switchyard.api.chat import ChatRequest, Usage
from switchyard.cache.policy import CachePlan
from switchyard.cache.service import CachedAnswer, CacheService
from switchyard.cost import ZERO, format_usd
from switchyard.limits.enforce import Grant, KeyLimits
from switchyard.routing.select import Candidate

# An entry nobody settled within this long (its route lost track of it) is dropped.
_PENDING_HORIZON_S = 3600.0
_PRUNE_EVERY = 1024


def usage_tokens(usage: Usage | None) -> int:
    if usage is None:
        return 0
    return usage.total_tokens or usage.prompt_tokens + usage.completion_tokens


class Entry:
    """One request past the gate."""

    __slots__ = ("_gate", "_grant", "_key_id", "_plan", "_request_id", "cached")

    def __init__(
        self,
        gate: Gate,
        plan: CachePlan,
        cached: CachedAnswer | None,
        grant: Grant,
        key_id: str,
        request_id: str,
    ) -> None:
        self._gate = gate
        self._plan = plan
        self._grant = grant
        self._key_id = key_id
        self._request_id = request_id
        self.cached = cached

    @property
    def cache_status(self) -> str:
        if self.cached is not None:
            return "hit"
        return "miss" if self._plan.lookup else "skip"

    def headers(self) -> dict[str, str]:
        """``x-switchyard-cache`` and the key's ``x-ratelimit-*`` headers."""
        return {"x-switchyard-cache": self.cache_status, **self._gate.keys.headers(self._key_id)}

    def settle(self, usage: Usage | None = None) -> None:
        """Reconcile the key's tokens with ``usage`` (None: nothing was served). Idempotent."""
        self._gate.forget(self._request_id, self)
        self._grant.settle(usage_tokens(usage))

    def hit_headers(self) -> dict[str, str]:
        """The answer headers of a cache hit: who served it first; no attempt, no cost."""
        assert self.cached is not None
        return {
            "x-switchyard-provider": self.cached.provider,
            "x-switchyard-model": self.cached.model,
            "x-switchyard-deployment": self.cached.deployment_id,
            "x-switchyard-attempts": "0",
            "x-switchyard-cost-usd": format_usd(ZERO),
            **self.headers(),
        }

    async def store(self, body: bytes, candidate: Candidate) -> None:
        """Cache a fresh answer's JSON body, if this request's plan stores."""
        if not self._plan.store:
            return
        dep = candidate.deployment
        answer = CachedAnswer(body, candidate.provider_name, dep.model, candidate.deployment_id)
        await self._gate.cache.save(self._plan, answer)


class Gate:
    def __init__(
        self, cache: CacheService, keys: KeyLimits, *, clock: Callable[[], float] = monotonic
    ) -> None:
        self.cache = cache
        self.keys = keys
        self._clock = clock
        # Entries waiting for their usage, by request id (a caller's x-request-id may repeat).
        self._pending: dict[str, list[tuple[float, Entry]]] = {}
        self._entered = 0

    async def enter(
        self, request: ChatRequest, key_id: str, headers: Mapping[str, str], request_id: str
    ) -> Entry:
        """Raises RateLimitError over the key's limit, InvalidRequestError for a malformed cache
        header."""
        plan = self.cache.plan(request, key_id, headers)
        cached = await self.cache.lookup(plan)
        tokens = 0 if cached is not None else self.keys.estimate(key_id, request)
        grant = await self.keys.admit(key_id, tokens)
        entry = Entry(self, plan, cached, grant, key_id, request_id)
        if cached is not None:
            grant.settle(0)  # answered from the cache: nothing more will be spent
        else:
            self._remember(request_id, entry)
        return entry

    async def record(self, record: UsageRecord) -> None:
        """Accounting sink: the answer's usage settles its entry."""
        entries = self._pending.get(record.request_id)
        if entries:
            entries[0][1].settle(record.usage)

    def forget(self, request_id: str, entry: Entry) -> None:
        entries = self._pending.get(request_id)
        if entries is None:
            return
        entries[:] = [(t, e) for t, e in entries if e is not entry]
        if not entries:
            del self._pending[request_id]

    def _remember(self, request_id: str, entry: Entry) -> None:
        now = self._clock()
        self._entered += 1
        if self._entered % _PRUNE_EVERY == 0:
            stale = [
                e for entries in self._pending.values() for t, e in entries if now - t > _PENDING_HORIZON_S
            ]
            for old in stale:
                old.settle(None)
        self._pending.setdefault(request_id, []).append((now, entry))
