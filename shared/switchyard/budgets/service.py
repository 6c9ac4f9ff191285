"""Budgets that act (DESIGN §5): reserve a request's cost before it is sent, settle it after.

Each budgeted scope (a key, a tenant, the whole gateway) has one counter per period in one item.
Before a request goes upstream its worst-case cost (the prompt estimate plus ``max_tokens``, or
``estimate_output_tokens``, at the most expensive price of its route) is added to every period of
every scope it belongs to with one conditional write per scope, which refuses when a cap would
be passed. So the counters never pass a cap, and what was spent can pass it only by what real
answers cost above their estimates (docs/costs.md: the bound). When the answer is accounted, the
difference between estimate and real cost is kept in memory and rides on the scope's next write,
so a budgeted scope costs one write per request, and concurrent requests of one container share
one write (they are committed as a group).

At 100 % a scope's action applies: ``block`` answers 429 ``budget_exceeded`` until the period ends;
``downgrade`` sends requests for a model to its cheaper model (``budgets.downgrade``) and keeps
counting. Thresholds (50/80/90/100 %) each send one ``Switchyard Budget Threshold`` event per
scope and period, however many instances see them cross: a conditional write claims each one.

A scope expected to take more writes a second than one item should (the global budget, a busy
tenant or key: ``budgets.expected_rps``, ``tenant_expected_rps``, ``key_expected_rps``) keeps its
counters in N shards, each capped at 1/N of the budget (:mod:`switchyard.budgets.shards`). Reads
(reports, threshold events) sum the shards.

The global override that the budget function sets when a cost alarm fires is read through a
warm cache (``override_ttl_s``). Budget state that cannot be reached (down, or throttled: counted
as ``BudgetWritesThrottled`` and alarmed on) fails open by default, logged, like the limits: a
DynamoDB outage must not stop every request; with ``fail_closed`` such a request gets a 503
``budgets_unavailable`` instead (``SWITCHYARD_BUDGETS_FAIL_CLOSED``).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from time import time

from switchyard.accounting import format_usd, route_prices
from switchyard.api.chat import ChatRequest
from switchyard.budgets.periods import period_end, period_key, previous_key
from switchyard.budgets.shards import ShardWrite, roomiest, shard_caps
from switchyard.config.prices import PriceTable
from switchyard.config.routing import BudgetsConfig
from switchyard.errors import BudgetExceededError, GatewayError
from switchyard.events import BUDGET_THRESHOLD, EventPublisher
from switchyard.keys.auth import MASTER_TENANT, Identity
from switchyard.limits.windows import estimate_tokens
from switchyard.observability import logger
from switchyard.routing.select import RouteTable
from switchyard.state.ports import (
    BudgetAction,
    BudgetOverride,
    BudgetPeriod,
    BudgetResult,
    BudgetStore,
    StateUnavailableError,
    TenantRecord,
)

ZERO = Decimal(0)
_PER_TOKEN = Decimal(1_000_000)
_RECHECK_S = 5.0  # a refused scope is refused locally this long before the store is asked again
_NOTICE_KEEP_S = 86400.0  # a claimed threshold outlives its period by this much
_OUTAGE_LOG_S = 60.0
_MAX_TENANTS = 10_000


@dataclass(frozen=True, slots=True)
class Scope:
    name: str  # "key#k_…", "tenant#acme", "global"
    caps: Mapping[BudgetPeriod, Decimal]
    action: BudgetAction

    @classmethod
    def key(cls, key_id: str, caps: Mapping[BudgetPeriod, Decimal], action: BudgetAction) -> Scope:
        return cls(f"key#{key_id}", caps, action)

    @classmethod
    def tenant(cls, record: TenantRecord) -> Scope:
        return cls(f"tenant#{record.tenant}", record.budgets, record.budget_action)

    @property
    def kind(self) -> str:
        """key | tenant | global"""
        return self.name.partition("#")[0]

    @property
    def ident(self) -> str:
        """The key id or tenant; "global" for the gateway."""
        return self.name.partition("#")[2] or "global"

    def periods(self, now: float) -> tuple[dict[str, Decimal], float, list[str]]:
        """The caps by current period key, when the scope's record may expire, and the period
        keys of the periods before (dropped by the next write)."""
        caps = {period_key(p, now): cap for p, cap in self.caps.items()}
        expires = max(period_end(p, now) for p in self.caps) + _NOTICE_KEEP_S
        return caps, expires, [previous_key(p, now) for p in self.caps]


@dataclass(slots=True)
class _Local:
    """One scope's state in this container."""

    adjust: Decimal = ZERO  # settled differences (real minus estimate) not written yet
    queue: list[tuple[Decimal, asyncio.Future[bool]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    refused_until: float = 0.0
    refused_period: BudgetPeriod | None = None
    notified: set[str] = field(default_factory=set)
    # As last seen in the store; for a sharded scope, the shard's counters times the shards (an
    # estimate, checked against the sum before a threshold event goes out).
    spent: dict[str, Decimal] = field(default_factory=dict)
    checked_until: dict[str, float] = field(default_factory=dict)  # notice -> no re-check before
    scope: Scope | None = None


class Ticket:
    """One request's reservations. :meth:`settle` once with the answer's real cost (0: nothing
    was served); later calls do nothing."""

    __slots__ = ("_done", "_held", "downgraded_to")

    def __init__(self, held: list[tuple[_Local, Decimal]], downgraded_to: str | None):
        self._held = held
        self._done = not held
        self.downgraded_to = downgraded_to

    def settle(self, cost: Decimal) -> None:
        if self._done:
            return
        self._done = True
        for local, reserved in self._held:
            local.adjust += cost - reserved

    def headers(self) -> dict[str, str]:
        return {"x-switchyard-budget": "downgraded"} if self.downgraded_to else {}


NO_TICKET = Ticket([], None)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One cap of one scope, as the shared counter has it now."""

    scope: str  # key | tenant | global
    id: str
    period: BudgetPeriod
    period_key: str
    budget_usd: Decimal
    spent_usd: Decimal  # includes reservations of requests in flight
    action: BudgetAction


class Budgets:
    def __init__(
        self,
        store: BudgetStore,
        config: BudgetsConfig,
        table: RouteTable,
        *,
        prices: PriceTable | None,
        events: EventPublisher,
        clock: Callable[[], float] = time,
        ttl_s: float = 60.0,
        fail_closed: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._fail_closed = fail_closed
        self._rng = rng or random.Random()
        self._config = config
        self._table = table
        self._prices = prices
        self._events = events
        self._clock = clock
        self._ttl_s = ttl_s  # how long the global override and a tenant's budgets are trusted
        self._locals: dict[str, _Local] = {}
        self._unit_prices: dict[str, tuple[Decimal, Decimal]] = {}
        self._contexts: dict[str, tuple[float, BudgetOverride | None, TenantRecord | None]] = {}
        self._cheap = frozenset(config.downgrade.values())
        self._quiet_until = -math.inf

    # ------------------------------------------------------------------------ admission

    async def admit(self, request: ChatRequest, identity: Identity | None) -> Ticket:
        """Reserve ``request``'s worst-case cost on every budget it falls under. Raises
        BudgetExceededError (429, ``Retry-After`` until the period ends) when a ``block`` budget,
        or the global override, refuses it; NotFoundError for an unknown model."""
        model = request.model
        override, tenant = await self._context(identity.tenant if identity is not None else MASTER_TENANT)
        if override is not None:
            model = self._downgrade(model, override.action, scope=None, period=None)
        scopes = self._scopes(identity, tenant)
        if not scopes:
            return Ticket([], model if model != request.model else None)
        estimate = self.estimate(request, model)
        granted = await asyncio.gather(*(self._reserve(s, estimate) for s in scopes))
        refused = [s for s, ok in zip(scopes, granted, strict=True) if not ok]
        held = [(self._local(s.name), estimate) for s, ok in zip(scopes, granted, strict=True) if ok]
        if not refused:
            return Ticket(held, model if model != request.model else None)
        for local, reserved in held:  # given back with the scope's next write
            local.adjust -= reserved
        action: BudgetAction = "downgrade" if all(s.action == "downgrade" for s in refused) else "block"
        first = refused[0]
        cheaper = self._downgrade(model, action, scope=first, period=self._local(first.name).refused_period)
        cost = self.estimate(request, cheaper)
        held = []
        for scope in scopes:  # over budget, still counted: the next writes carry it
            local = self._local(scope.name)
            local.adjust += cost
            held.append((local, cost))
        return Ticket(held, cheaper if cheaper != request.model else None)

    def _downgrade(
        self, model: str, action: BudgetAction, *, scope: Scope | None, period: BudgetPeriod | None
    ) -> str:
        """The model to serve at 100 % of a budget; raises BudgetExceededError when it blocks."""
        if action == "downgrade":
            if model in self._cheap:
                return model
            target = self._config.downgrade.get(model)
            if target is not None:
                return target
        now = self._clock()
        retry = period_end(period, now) - now if period is not None else 60.0
        what = "the gateway's" if scope is None or scope.kind == "global" else f"this {scope.kind}'s"
        when = f"{period} " if period is not None else ""
        raise BudgetExceededError(
            f"{what.capitalize()} {when}budget is spent; retry after the period resets.",
            retry_after=max(1, math.ceil(retry)),
        )

    def _scopes(self, identity: Identity | None, tenant: TenantRecord | None) -> list[Scope]:
        scopes: list[Scope] = []
        if identity is not None and identity.budgets and not identity.admin:
            scopes.append(Scope.key(identity.key_id, identity.budgets, identity.budget_action))
        if tenant is not None and tenant.budgets:
            scopes.append(Scope.tenant(tenant))
        whole = self.global_scope()
        if whole is not None:
            scopes.append(whole)
        return scopes

    def estimate(self, request: ChatRequest, model: str) -> Decimal:
        """The most ``request`` can cost on ``model``'s route: its prompt estimate and its output
        limit (or ``estimate_output_tokens``) at the route's highest prices."""
        default_output = self._config.estimate_output_tokens
        output = (request.output_limit or default_output) * (request.n or 1)
        prompt = estimate_tokens(request, default_output) - output
        price_in, price_out = self._unit_price(model)
        return (prompt * price_in + output * price_out) / _PER_TOKEN

    def _unit_price(self, model: str) -> tuple[Decimal, Decimal]:
        known = self._unit_prices.get(model)
        if known is None:
            highest_in = highest_out = ZERO
            for _, price in route_prices(self._table, model, self._prices):
                highest_in = max(highest_in, price.input, price.cache_write or ZERO)
                highest_out = max(highest_out, price.output)
            known = self._unit_prices[model] = (highest_in, highest_out)
        return known

    # ------------------------------------------------------------------------ the store

    def _local(self, scope: str) -> _Local:
        local = self._locals.get(scope)
        if local is None:
            local = self._locals[scope] = _Local()
        return local

    async def _reserve(self, scope: Scope, amount: Decimal) -> bool:
        local = self._local(scope.name)
        local.scope = scope
        if self._clock() < local.refused_until:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        local.queue.append((amount, future))
        if local.task is None:
            local.task = asyncio.create_task(self._drain(scope, local))
        return await future

    async def _drain(self, scope: Scope, local: _Local) -> None:
        """Commit queued reservations as groups: one write for every request that arrived while
        the previous write was under way."""
        try:
            while local.queue:
                batch, local.queue = local.queue, []
                try:
                    await self._commit(scope, local, batch)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
        finally:
            local.task = None

    async def _commit(
        self, scope: Scope, local: _Local, batch: list[tuple[Decimal, asyncio.Future[bool]]]
    ) -> None:
        total = sum((amount for amount, _ in batch), ZERO)
        if await self._charge(scope, local, total):
            for _, future in batch:
                future.set_result(True)
            return
        # The group does not fit: admit what does, in arrival order, one write each (a refusal
        # makes the rest be refused locally).
        for amount, future in batch:
            admitted = len(batch) > 1 and await self._charge(scope, local, amount)
            future.set_result(admitted)

    def shards(self, scope: Scope) -> int:
        """How many items the scope's counters are spread over."""
        cfg = self._config
        rps = {"global": cfg.expected_rps, "tenant": cfg.tenant_expected_rps, "key": cfg.key_expected_rps}
        return self._config.shards(rps.get(scope.kind, 0.0))

    async def _charge(self, scope: Scope, local: _Local, amount: Decimal) -> bool:
        now = self._clock()
        caps, expires, drop = scope.periods(now)
        shards = self.shards(scope)
        share = shard_caps(caps, shards)
        carried = local.adjust
        shard = self._rng.randrange(shards)
        try:
            result = await self._store.charge(
                scope.name, amount + carried, share, expires_at=expires, drop=drop, shard=shard
            )
            if not result.applied and shards > 1:
                write = ShardWrite(scope.name, amount + carried, share, expires, drop)
                result, shard = await roomiest(self._store, write, shards)
            if not result.applied and carried:
                # What was spent (or given back) is written whatever happens to the new request.
                settled = await self._store.charge(
                    scope.name, carried, dict.fromkeys(caps), expires_at=expires, drop=drop, shard=shard
                )
                result = BudgetResult(False, settled.spent)
        except StateUnavailableError as exc:
            return self._unavailable(scope, exc, now)
        local.spent = {period: value * shards for period, value in result.spent.items()}
        local.adjust -= carried
        if result.applied:
            await self._notify(scope, local, now)
            return True
        local.refused_until = now + _RECHECK_S
        local.refused_period = period = self._exhausted(scope, local.spent, amount, now)
        # Refused: the period is spent as far as anyone can use it, so every threshold is crossed
        # (a reservation may have jumped from 73 % to refused without passing 80 and 90).
        for threshold in self._config.thresholds:
            await self._claim(scope, local, period, threshold, now, confirmed=True)
        return False

    def _unavailable(self, scope: Scope, exc: StateUnavailableError, now: float) -> bool:
        """Budget state unreachable or throttled: admit (fail open), or refuse with a 503."""
        if now >= self._quiet_until:  # an outage would otherwise log once per request
            self._quiet_until = now + _OUTAGE_LOG_S
            verb = "refusing" if self._fail_closed else "admitting"
            extra = {"scope": scope.name, "error": str(exc)}
            logger.warning(f"budget state unavailable: {verb}", extra=extra)
        if self._fail_closed:
            raise GatewayError(
                "Budgets cannot be checked right now; retry later.",
                status=503,
                retry_after=max(1, math.ceil(_RECHECK_S)),
                code="budgets_unavailable",
            ) from exc
        return True

    def _exhausted(
        self, scope: Scope, spent: Mapping[str, Decimal], amount: Decimal, now: float
    ) -> BudgetPeriod:
        """The period whose cap refused ``amount`` (the one with least room)."""

        def room(period: BudgetPeriod) -> Decimal:
            return scope.caps[period] - spent.get(period_key(period, now), ZERO) - amount

        return min(scope.caps, key=room)

    # ------------------------------------------------------------------------ reading

    def global_scope(self) -> Scope | None:
        return Scope("global", self._config.global_, self._config.action) if self._config.global_ else None

    async def status(self, scopes: list[Scope]) -> list[BudgetStatus]:
        """Every cap of ``scopes`` with what its current period has spent. Raises
        ``StateUnavailableError``."""
        now = self._clock()
        rows: list[BudgetStatus] = []
        for scope in scopes:
            spent = await self._store.spent(scope.name, shards=self.shards(scope))
            for period, cap in scope.caps.items():
                key = period_key(period, now)
                rows.append(
                    BudgetStatus(
                        scope.kind, scope.ident, period, key[1:], cap, spent.get(key, ZERO), scope.action
                    )
                )
        return rows

    async def override(self) -> BudgetOverride | None:
        """The global override as stored now (not the warm copy)."""
        return await self._store.override()

    # ------------------------------------------------------------------------ thresholds

    async def _notify(self, scope: Scope, local: _Local, now: float) -> None:
        for period, cap in scope.caps.items():
            if cap <= 0:
                continue
            used = local.spent.get(period_key(period, now), ZERO) * 100 / cap
            for threshold in self._config.thresholds:
                if used >= threshold:
                    await self._claim(scope, local, period, threshold, now)

    async def _claim(
        self,
        scope: Scope,
        local: _Local,
        period: BudgetPeriod,
        threshold: int,
        now: float,
        *,
        confirmed: bool = False,
    ) -> None:
        key = period_key(period, now)
        notice = f"{key}#{threshold}"
        if notice in local.notified or now < local.checked_until.get(notice, -math.inf):
            return
        shards = self.shards(scope)
        if shards > 1 and not confirmed and not await self._crossed(scope, local, key, threshold, now):
            local.checked_until[notice] = now + _RECHECK_S  # an estimate ahead of the sum
            return
        local.notified.add(notice)
        try:
            claimed = await self._store.claim_notice(
                scope.name, notice, expires_at=period_end(period, now) + _NOTICE_KEEP_S
            )
        except StateUnavailableError:
            local.notified.discard(notice)  # try again on the next write
            return
        if not claimed:
            return
        cap = scope.caps[period]
        detail = {
            "scope": scope.kind,
            "id": scope.ident,
            "period": period,
            "period_key": key[1:],
            "threshold": threshold,
            "budget_usd": format_usd(cap),
            "spent_usd": format_usd(local.spent.get(key, ZERO)),
            "action": scope.action if threshold >= 100 else "notify",
        }
        await self._events.publish(BUDGET_THRESHOLD, detail)

    async def _crossed(self, scope: Scope, local: _Local, key: str, threshold: int, now: float) -> bool:
        """Whether the sum of a sharded scope's counters has reached ``threshold`` (the estimate
        from one shard said so); the sum replaces the estimate."""
        try:
            total = await self._store.spent(scope.name, shards=self.shards(scope))
        except StateUnavailableError:
            return False
        local.spent = dict(total)
        cap = next(c for p, c in scope.caps.items() if period_key(p, now) == key)
        return total.get(key, ZERO) * 100 >= cap * threshold

    # ------------------------------------------------------------------------ warm caches

    async def _context(self, tenant: str) -> tuple[BudgetOverride | None, TenantRecord | None]:
        """The global override and the tenant's record, read together at most once per TTL per
        tenant (one call); while the store cannot be reached, what was known stays in use."""
        now = self._clock()
        cached = self._contexts.get(tenant)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        try:
            override, record = await self._store.context(tenant)
        except StateUnavailableError:
            override, record = (cached[1], cached[2]) if cached is not None else (None, None)
        if len(self._contexts) >= _MAX_TENANTS:
            self._contexts.clear()  # a bound on memory, not a policy: entries are re-read
        self._contexts[tenant] = (now + self._ttl_s, override, record)
        return override, record

    async def flush(self) -> None:
        """Write every scope's settled differences (at shutdown)."""
        now = self._clock()
        for name, local in self._locals.items():
            scope = local.scope
            if not local.adjust or local.task is not None or scope is None:
                continue
            caps, expires, _ = scope.periods(now)
            shard = self._rng.randrange(self.shards(scope))
            try:
                await self._store.charge(
                    name, local.adjust, dict.fromkeys(caps), expires_at=expires, shard=shard
                )
            except StateUnavailableError:
                logger.warning("budget settlement lost", extra={"scope": name})
                continue
            local.adjust = ZERO
