"""What a request passes before routing (DESIGN §3 steps 4-5): the cache, then its key's limits.

:meth:`Gate.enter` looks the request up in the cache (a hit is answered without an upstream call
and costs the key one request, no tokens), then admits it against the client key's limits (429
with ``Retry-After`` and ``x-ratelimit-*`` over them). The admitted request's tokens are reconciled
when its usage is accounted: the gate is an :class:`~switchyard.accounting.Accounting` sink, so
buffered and streamed answers settle the same way; a request that fails before any answer is
settled by its route with :meth:`Entry.settle`.

The gate also knows who each request is from (its key id, and through the key's identity its
tenant, allowed models and own limits), so it attributes every answer, cache hit and unanswered
request to the usage aggregates (:class:`~switchyard.usage.recorder.UsageRecorder`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from time import monotonic

from switchyard.accounting import Accounting, UsageRecord
from switchyard.api.chat import ChatRequest, Usage
from switchyard.budgets.service import NO_TICKET, Budgets, Ticket
from switchyard.cache.policy import CachePlan
from switchyard.cache.service import CachedAnswer, CacheService
from switchyard.cost import ZERO, format_usd
from switchyard.errors import RateLimitError
from switchyard.keys.auth import MASTER_TENANT, Identity
from switchyard.limits.enforce import Grant, KeyLimits
from switchyard.routing.select import Candidate
from switchyard.usage.recorder import UsageRecorder

# An entry nobody settled within this long (its route lost track of it) is dropped.
_PENDING_HORIZON_S = 3600.0
_PRUNE_EVERY = 1024


def usage_tokens(usage: Usage | None) -> int:
    if usage is None:
        return 0
    return usage.total_tokens or usage.prompt_tokens + usage.completion_tokens


class Entry:
    """One request past the gate."""

    __slots__ = (
        "_gate",
        "_grant",
        "_key_id",
        "_model",
        "_plan",
        "_request_id",
        "_ticket",
        "cached",
        "cost_usd",
        "request",
        "served",
    )

    def __init__(
        self,
        gate: Gate,
        plan: CachePlan,
        cached: CachedAnswer | None,
        grant: Grant,
        key_id: str,
        request_id: str,
        request: ChatRequest,
        model: str = "",
        ticket: Ticket = NO_TICKET,
    ) -> None:
        self._gate = gate
        self._ticket = ticket
        # What to route: the caller's request, or its downgrade when a budget is spent.
        self.request = request
        if ticket.downgraded_to is not None:
            plan = replace(plan, store=False)  # a downgraded answer is not the asked model's
        self._plan = plan
        self._grant = grant
        self._key_id = key_id
        self._request_id = request_id
        self.cached = cached
        self.cost_usd = ZERO  # the answer's cost once accounted (kept with a cached copy)
        self.served = cached is not None
        self._model = model

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def cache_status(self) -> str:
        if self.cached is not None:
            return "hit"
        return "miss" if self._plan.lookup else "skip"

    def headers(self) -> dict[str, str]:
        """``x-switchyard-cache`` and the key's ``x-ratelimit-*`` headers."""
        return {
            "x-switchyard-cache": self.cache_status,
            **self._gate.keys.headers(self._key_id),
            **self._ticket.headers(),
        }

    def settle(self, usage: Usage | None = None) -> None:
        """Reconcile the key's tokens with ``usage`` (None: nothing was served). Idempotent."""
        if self._gate.forget(self._request_id, self) and not self.served:
            self._gate.unanswered(self._model, self._key_id)
        self._grant.settle(usage_tokens(usage))
        self._ticket.settle(self.cost_usd if usage is not None else ZERO)

    def hit_headers(self) -> dict[str, str]:
        """The answer headers of a cache hit: who served it first; no attempt, no cost, and what
        the hit saved."""
        assert self.cached is not None
        return {
            "x-switchyard-provider": self.cached.provider,
            "x-switchyard-model": self.cached.model,
            "x-switchyard-deployment": self.cached.deployment_id,
            "x-switchyard-attempts": "0",
            "x-switchyard-cost-usd": format_usd(ZERO),
            "x-switchyard-cost-saved-usd": format_usd(self.cached.cost_usd),
            **self.headers(),
        }

    async def store(self, body: bytes, candidate: Candidate) -> None:
        """Cache a fresh answer's JSON body, if this request's plan stores."""
        if not self._plan.store:
            return
        dep = candidate.deployment
        answer = CachedAnswer(
            body, candidate.provider_name, dep.model, candidate.deployment_id, self.cost_usd
        )
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
        # Set by the composition root: cache hits are accounted (cost 0, the saving) there.
        self.accounting: Accounting | None = None
        # Set by the composition root: who a key id is (allowed models, a virtual key's limits).
        self.identities: Callable[[str], Identity | None] | None = None
        # Set by the composition root: usage aggregates per tenant, key, model, provider and day.
        self.usage: UsageRecorder | None = None
        # Set by the composition root: spend reserved against budgets before a request is sent.
        self.budgets: Budgets | None = None

    async def enter(
        self, request: ChatRequest, key_id: str, headers: Mapping[str, str], request_id: str
    ) -> Entry:
        """Raises RateLimitError over the key's limit, PermissionDeniedError for a model the key
        may not use, InvalidRequestError for a malformed cache header."""
        identity = self.identities(key_id) if self.identities is not None else None
        if identity is not None:
            identity.check_model(request.model)
            if identity.limits is not None:
                self.keys.use(key_id, identity.limits)
        plan = self.cache.plan(request, key_id, headers)
        cached = await self.cache.lookup(plan)
        tokens = 0 if cached is not None else self.keys.estimate(key_id, request)
        try:
            grant = await self.keys.admit(key_id, tokens)
        except RateLimitError:
            self.unanswered(request.model, key_id)  # refused: an error in the key's usage
            raise
        ticket = NO_TICKET
        if cached is None and self.budgets is not None:
            try:
                ticket = await self.budgets.admit(request, identity)
            except BaseException:
                grant.settle(0)
                self.unanswered(request.model, key_id)
                raise
        routed = request
        if ticket.downgraded_to is not None:
            routed = request.model_copy(update={"model": ticket.downgraded_to})
        entry = Entry(self, plan, cached, grant, key_id, request_id, routed, request.model, ticket)
        if cached is not None:
            grant.settle(0)  # answered from the cache: nothing more will be spent
            await self._account_hit(request.model, cached, request_id, key_id)
        else:
            self._remember(request_id, entry)
        return entry

    async def record(self, record: UsageRecord) -> None:
        """Accounting sink: the answer's usage settles its entry."""
        entries = self._pending.get(record.request_id)
        if entries:
            entry = entries[0][1]
            entry.cost_usd = record.cost_usd
            entry.served = True
            if self.usage is not None:
                self.usage.answered(record, entry.key_id, self._tenant(entry.key_id))
            entry.settle(record.usage)

    def unanswered(self, model: str, key_id: str) -> None:
        if self.usage is not None:
            self.usage.failed(model, key_id, self._tenant(key_id))

    def _tenant(self, key_id: str) -> str:
        identity = self.identities(key_id) if self.identities is not None else None
        return identity.tenant if identity is not None else MASTER_TENANT

    async def _account_hit(
        self, public_model: str, cached: CachedAnswer, request_id: str, key_id: str
    ) -> None:
        if self.accounting is None:
            return
        record = await self.accounting.record_hit(
            public_model,
            cached.provider,
            cached.deployment_id,
            cached.model,
            cached.cost_usd,
            request_id=request_id,
        )
        if self.usage is not None:
            self.usage.answered(record, key_id, self._tenant(key_id))

    def forget(self, request_id: str, entry: Entry) -> bool:
        """Stop waiting for ``entry``; False when it was not waited for (already settled)."""
        entries = self._pending.get(request_id)
        if entries is None or all(e is not entry for _, e in entries):
            return False
        entries[:] = [(t, e) for t, e in entries if e is not entry]
        if not entries:
            del self._pending[request_id]
        return True

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
