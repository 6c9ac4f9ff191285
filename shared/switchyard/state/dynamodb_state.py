"""Breakers and limits on the state table: one item per scope, read once, used for both.

Item shape (pk = scope, sk = ``state``)::

    pk  "dep#<deployment id>" | "key#<key id>"     sk  "state"
    b_st b_f b_ws b_oa b_ps b_pk b_v     breaker: status, failures, window start, opened at,
                                         probe started, parked until, version (deployments only)
    w_m r_m t_m  w_h r_h t_h  w_d r_d t_d
                                         limit windows per minute/hour/day: start, requests, tokens
    c_h {holder: {n, x}}  c_v            concurrency holders (slots, expiry) and their version
    expires_at                           TTL, pushed forward by every write

Every answer DynamoDB gives about an item (GetItem, ALL_NEW after a write, ALL_OLD after a failed
condition) refreshes this store's copy of the whole item, so a deployment's limit lease also
refreshes its breaker (the piggyback of DESIGN §4) and a lost race costs no extra read. Breakers
are read again only when the copy is older than ``refresh_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from time import time

from switchyard.state.dynamodb import ConditionFailed, Item, Once, Table, expired, integer, n, num, s, text
from switchyard.state.memory import held, may_hold
from switchyard.state.ports import (
    DAY,
    HOUR,
    MINUTE,
    BreakerRecord,
    BreakerStatus,
    Holding,
    LimitResult,
    ScopeState,
    StateThrottledError,
    WindowCharge,
    WindowCount,
    deployment_scope,
)

_SK = "state"
_CODES = {MINUTE: "m", HOUR: "h", DAY: "d"}
_ITEM_TTL_S = 7 * 86400
_TRIES = 3
# A hold is a compare-and-set on the whole holder map: with k writers racing, the last to win
# needs k tries, and a loss here refuses a request that had room.
_HOLD_TRIES = 16
_DEP = deployment_scope("")


@dataclass(frozen=True, slots=True)
class _Copy:
    """This store's copy of one scope item, as of ``fetched_at``."""

    fetched_at: float
    breaker: BreakerRecord
    state: ScopeState
    holders_version: int


class DynamoStateStore:
    """Implements both ``BreakerStore`` and ``LimitStore`` on the same items."""

    def __init__(
        self,
        table: Table,
        *,
        refresh_s: float = 2.0,
        clock: Callable[[], float] = time,
        on_throttled: Callable[[], None] = lambda: None,
    ) -> None:
        self._table = table
        self._refresh_s = refresh_s
        self._clock = clock
        self._on_throttled = on_throttled  # a limit write refused for throughput (a metric)
        self._copies: dict[str, _Copy] = {}
        self._reads: dict[str, asyncio.Future[Item | None]] = {}

    # -------------------------------------------------------------------------- BreakerStore

    async def load(self, deployment_id: str) -> BreakerRecord:
        scope = deployment_scope(deployment_id)
        copy = self._copies.get(scope)
        if copy is None or self._clock() - copy.fetched_at >= self._refresh_s:
            copy = await self._fetch(scope)
        return copy.breaker

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        scope = deployment_scope(deployment_id)
        condition = (
            "attribute_not_exists(b_v) OR b_v = :expected" if expected_version == 0 else "b_v = :expected"
        )
        values = {
            ":st": s(record.status.value),
            ":f": n(record.failures),
            ":ws": n(record.window_start),
            ":oa": n(record.opened_at),
            ":ps": n(record.probe_started),
            ":pk": n(record.parked_until),
            ":v": n(record.version),
            ":expected": n(expected_version),
            ":ttl": n(int(self._clock()) + _ITEM_TTL_S),
        }
        update = (
            "SET b_st = :st, b_f = :f, b_ws = :ws, b_oa = :oa, b_ps = :ps, b_pk = :pk, b_v = :v, "
            "expires_at = :ttl"
        )
        try:
            item = await self._table.update(_key(scope), update, condition=condition, values=values)
        except ConditionFailed as failed:
            self._remember(scope, failed.item)
            return False
        self._remember(scope, item)
        return True

    async def load_all(self) -> dict[str, BreakerRecord]:
        now = self._clock()
        stale = [
            scope
            for scope, copy in self._copies.items()
            if scope.startswith(_DEP) and now - copy.fetched_at >= self._refresh_s
        ]
        if stale:
            found = {
                item["pk"]["S"]: item for item in await self._table.batch_get([_key(sc) for sc in stale])
            }
            for scope in stale:
                self._remember(scope, found.get(scope), read=True)
        return {
            scope.removeprefix(_DEP): copy.breaker
            for scope, copy in self._copies.items()
            if scope.startswith(_DEP)
        }

    # -------------------------------------------------------------------------- LimitStore

    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        copy = self._copies.get(scope)
        fresh = False
        for _ in range(_TRIES):
            state = copy.state if copy is not None else None
            if state is not None and not all(c.fits(state.windows.get(c.period)) for c in charges):
                if fresh:
                    return LimitResult(False, state)
                # Refused on an old copy: read once before refusing (others may have rolled over).
                copy, fresh = await self._fetch(scope), True
                continue
            # A lease charged twice only under-admits (by one lease); units given back twice would
            # admit past the limit. Only the latter carries a token: a token set costs write
            # capacity on every write, and a hot key's item is written often (docs/state.md).
            gives_back = any(c.requests < 0 or c.tokens < 0 for c in charges)
            once = Once.new(self._clock()) if gives_back else None
            update, condition, values = _charge_expression(
                charges, state, int(self._clock()) + _ITEM_TTL_S, once
            )
            try:
                item = await self._table.update(_key(scope), update, condition=condition, values=values)
            except ConditionFailed as failed:
                if once is not None and once.applied(failed.item):  # our own earlier try, applied
                    return LimitResult(True, self._remember(scope, failed.item).state)
                copy, fresh = self._remember(scope, failed.item), True
                continue
            except StateThrottledError:
                self._on_throttled()
                raise
            return LimitResult(True, self._remember(scope, item).state)
        return LimitResult(False, copy.state if copy is not None else ScopeState())

    async def hold(
        self, scope: str, holder: str, slots: int, *, max_slots: int, now: float, expires_at: float
    ) -> LimitResult:
        copy = self._copies.get(scope)
        fresh = False
        if copy is None:
            copy, fresh = await self._fetch(scope), True
        for _ in range(_HOLD_TRIES):
            if not may_hold(copy.state, holder, slots, max_slots=max_slots, now=now):
                if fresh:
                    return LimitResult(False, copy.state)
                copy, fresh = await self._fetch(scope), True
                continue
            holders = held(copy.state, holder, slots, now=now, expires_at=expires_at)
            version = copy.holders_version
            values = {
                ":h": {"M": {name: _holding(h) for name, h in holders.items()}},
                ":next": n(version + 1),
                ":v": n(version),
                ":ttl": n(int(self._clock()) + _ITEM_TTL_S),
            }
            condition = "attribute_not_exists(c_v) OR c_v = :v" if version == 0 else "c_v = :v"
            update = "SET c_h = :h, c_v = :next, expires_at = :ttl"
            try:
                item = await self._table.update(_key(scope), update, condition=condition, values=values)
            except ConditionFailed as failed:
                copy, fresh = self._remember(scope, failed.item), True
                continue
            return LimitResult(True, self._remember(scope, item).state)
        return LimitResult(False, copy.state)

    async def read(self, scope: str) -> ScopeState:
        return (await self._fetch(scope)).state

    # -------------------------------------------------------------------------- item copies

    async def _fetch(self, scope: str) -> _Copy:
        """Read the item (strongly consistent: a copy is read to be compared-and-set against);
        concurrent reads of one scope share one GetItem, so a burst of requests on a cold or
        stale copy costs one call, not one each."""
        pending = self._reads.get(scope)
        if pending is None:
            pending = asyncio.ensure_future(self._table.get(_key(scope), consistent=True))
            self._reads[scope] = pending
            pending.add_done_callback(lambda _: self._reads.pop(scope, None))
        return self._remember(scope, await asyncio.shield(pending), read=True)

    def _remember(self, scope: str, item: Item | None, *, read: bool = False) -> _Copy:
        copy = _decode(item, self._clock())
        known = self._copies.get(scope)
        # A read that was already on its way when this instance wrote may land after the write's
        # answer: a read never steps back to an older breaker or holder map than one already seen.
        # (Write answers are the item as it is, and always win.)
        if not read or known is None:
            self._copies[scope] = copy
            return copy
        if known.breaker.version > copy.breaker.version:
            copy = replace(copy, breaker=known.breaker)
        if known.holders_version > copy.holders_version:
            copy = replace(
                copy,
                state=replace(copy.state, holders=known.state.holders),
                holders_version=known.holders_version,
            )
        self._copies[scope] = copy
        return copy


def _key(scope: str) -> Item:
    return {"pk": s(scope), "sk": s(_SK)}


def _holding(h: Holding) -> Item:
    return {"M": {"n": n(h.slots), "x": n(h.expires_at)}}


def _decode(item: Item | None, now: float) -> _Copy:
    if item is None:
        return _Copy(now, BreakerRecord(), ScopeState(), 0)
    holders_version = integer(item, "c_v")
    if expired(item, now):
        # Gone as far as reads go, but the versions stay: the next compare-and-set must match them.
        return _Copy(now, BreakerRecord(version=integer(item, "b_v")), ScopeState(), holders_version)
    breaker = BreakerRecord(
        status=BreakerStatus(text(item, "b_st", BreakerStatus.CLOSED.value)),
        failures=integer(item, "b_f"),
        window_start=num(item, "b_ws"),
        opened_at=num(item, "b_oa"),
        probe_started=num(item, "b_ps"),
        parked_until=num(item, "b_pk"),
        version=integer(item, "b_v"),
    )
    windows = {
        period: WindowCount(integer(item, f"w_{c}"), integer(item, f"r_{c}"), integer(item, f"t_{c}"))
        for period, c in _CODES.items()
        if f"w_{c}" in item
    }
    holders = {
        name: Holding(integer(value["M"], "n"), num(value["M"], "x"))
        for name, value in item.get("c_h", {}).get("M", {}).items()
    }
    return _Copy(now, breaker, ScopeState(windows, holders), holders_version)


def _charge_expression(
    charges: Sequence[WindowCharge], state: ScopeState | None, expires_at: int, once: Once | None
) -> tuple[str, str | None, Item]:
    """One UpdateItem for every charge: ADD to a window the copy says is current (conditional on
    it still being current and having room), SET a fresh window otherwise (conditional on the
    stored one being older). A wrong guess fails the condition, and the old item comes back. A
    write with ``once`` carries its token, so a retried try that was applied is not applied again."""
    values: Item = {":ttl": n(expires_at)}
    sets, adds, conditions, removes = ["expires_at = :ttl"], [], [], []
    if once is not None:
        token_add, token_remove, token_condition = once.clauses(values)
        adds.append(token_add)
        conditions.append(token_condition)
        removes.append(token_remove)
    for c in charges:
        w, r, t = (f"{name}_{_CODES[c.period]}" for name in ("w", "r", "t"))
        values[f":{w}"] = n(c.start)
        stored = state.windows.get(c.period) if state is not None else None
        if stored is not None and stored.start == c.start:
            conditions.append(f"{w} = :{w}")
            adds += [f"{r} :{r}", f"{t} :{t}"]
            values[f":{r}"], values[f":{t}"] = n(c.requests), n(c.tokens)
            for attr, amount, limit in ((r, c.requests, c.max_requests), (t, c.tokens, c.max_tokens)):
                if limit is not None and amount > 0:
                    conditions.append(f"{attr} <= :{attr}_max")
                    values[f":{attr}_max"] = n(limit - amount)
        else:
            conditions.append(f"(attribute_not_exists({w}) OR {w} < :{w})")
            sets += [f"{w} = :{w}", f"{r} = :{r}", f"{t} = :{t}"]
            values[f":{r}"], values[f":{t}"] = n(max(0, c.requests)), n(max(0, c.tokens))
    update = "SET " + ", ".join(sets)
    update += " ADD " + ", ".join(adds) if adds else ""
    update += " REMOVE " + ", ".join(removes) if removes else ""
    return update, " AND ".join(conditions) or None, values
