"""In-memory adapters: one process's state, with the same conditional semantics as DynamoDB.

They serve tests and single-process runs, and are the fallbacks the degrading wrappers use while
DynamoDB cannot be reached. Nothing here awaits, so each method is atomic within its event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from time import time

from switchyard.state.ports import (
    BreakerRecord,
    Holding,
    KeptValue,
    KeyRecord,
    LimitResult,
    ScopeState,
    TenantRecord,
    UsageDelta,
    ValueTooLargeError,
    WindowCharge,
    WindowCount,
)

_FRESH = BreakerRecord()
_EMPTY = ScopeState()
# The same bound as the DynamoDB cache adapter, so a fallback never keeps what the table would not.
DEFAULT_MAX_VALUE_BYTES = 390 * 1024


class MemoryBreakerStore:
    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    async def load(self, deployment_id: str) -> BreakerRecord:
        return self._records.get(deployment_id, _FRESH)

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        current = self._records.get(deployment_id)
        if (current.version if current else 0) != expected_version:
            return False
        self._records[deployment_id] = record
        return True

    async def load_all(self) -> dict[str, BreakerRecord]:
        return dict(self._records)


class MemoryLimitStore:
    def __init__(self) -> None:
        self._scopes: dict[str, ScopeState] = {}

    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        state = self._scopes.get(scope, _EMPTY)
        if not all(c.fits(state.windows.get(c.period)) for c in charges):
            return LimitResult(False, state)
        windows = dict(state.windows)
        for c in charges:
            windows[c.period] = charged(windows.get(c.period), c)
        state = replace(state, windows=windows)
        self._scopes[scope] = state
        return LimitResult(True, state)

    async def hold(
        self, scope: str, holder: str, slots: int, *, max_slots: int, now: float, expires_at: float
    ) -> LimitResult:
        state = self._scopes.get(scope, _EMPTY)
        if not may_hold(state, holder, slots, max_slots=max_slots, now=now):
            return LimitResult(False, state)
        state = replace(state, holders=held(state, holder, slots, now=now, expires_at=expires_at))
        self._scopes[scope] = state
        return LimitResult(True, state)

    async def read(self, scope: str) -> ScopeState:
        return self._scopes.get(scope, _EMPTY)


def charged(stored: WindowCount | None, charge: WindowCharge) -> WindowCount:
    """The window after ``charge`` (which must fit): added to the same window, else a fresh one."""
    if stored is not None and stored.start == charge.start:
        return WindowCount(charge.start, stored.requests + charge.requests, stored.tokens + charge.tokens)
    return WindowCount(charge.start, max(0, charge.requests), max(0, charge.tokens))


def may_hold(state: ScopeState, holder: str, slots: int, *, max_slots: int, now: float) -> bool:
    current = state.holders.get(holder)
    if current is not None and current.expires_at > now and slots <= current.slots:
        return True
    return state.live_slots(now, excluding=holder) + slots <= max_slots


def held(state: ScopeState, holder: str, slots: int, *, now: float, expires_at: float) -> dict[str, Holding]:
    """The holders after ``holder`` takes ``slots``: expired holders dropped, 0 slots removes."""
    holders = {name: h for name, h in state.holders.items() if h.expires_at > now and name != holder}
    if slots > 0:
        holders[holder] = Holding(slots, expires_at)
    return holders


class MemoryResponseCache:
    """A bounded LRU: the oldest entries go first once ``max_entries`` are stored."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        clock: Callable[[], float] = time,
    ) -> None:
        # key -> (fresh until, kept until, value)
        self._entries: OrderedDict[str, tuple[float, float, bytes]] = OrderedDict()
        self._purges: dict[str, float] = {}
        self._max_entries = max_entries
        self._max_value_bytes = max_value_bytes
        self._clock = clock

    @property
    def max_value_bytes(self) -> int:
        return self._max_value_bytes

    async def get(self, key: str) -> bytes | None:
        kept = self._kept(key)
        return kept.value if kept is not None and kept.fresh_until > self._clock() else None

    async def get_kept(self, key: str) -> KeptValue | None:
        return self._kept(key)

    def _kept(self, key: str) -> KeptValue | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return KeptValue(entry[2], entry[0])

    async def put(
        self, key: str, value: bytes, *, expires_at: float, keep_until: float | None = None
    ) -> None:
        if len(value) > self._max_value_bytes:
            raise ValueTooLargeError(f"{len(value)} bytes is over the limit of {self._max_value_bytes}")
        self._entries[key] = (expires_at, max(expires_at, keep_until or expires_at), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def purges(self) -> dict[str, float]:
        return dict(self._purges)

    async def purge(self, scope: str, at: float, *, forget_before: float) -> None:
        self._purges = {name: when for name, when in self._purges.items() if when >= forget_before}
        self._purges[scope] = max(at, self._purges.get(scope, at))


class MemoryKeyStore:
    def __init__(self, *, clock: Callable[[], float] = time) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._tenants: dict[str, TenantRecord] = {}
        self._clock = clock

    async def get(self, key_id: str) -> KeyRecord | None:
        record = self._records.get(key_id)
        if record is None or (record.expires_at is not None and record.expires_at <= self._clock()):
            return None
        return record

    async def put(self, record: KeyRecord) -> None:
        self._records[record.key_id] = record

    async def revoke(self, key_id: str) -> bool:
        record = self._records.get(key_id)
        if record is None:
            return False
        self._records[key_id] = replace(record, status="revoked")
        return True

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        found = [await self.get(k) for k, r in sorted(self._records.items()) if r.tenant == tenant]
        return [r for r in found if r is not None]

    async def put_tenant(self, record: TenantRecord) -> None:
        self._tenants[record.tenant] = record

    async def get_tenant(self, tenant: str) -> TenantRecord | None:
        return self._tenants.get(tenant)

    async def list_tenants(self) -> list[TenantRecord]:
        return [self._tenants[t] for t in sorted(self._tenants)]


class MemoryUsageLedger:
    def __init__(self) -> None:
        self._totals: dict[tuple[str, str, str, str, str], UsageDelta] = {}

    async def add(self, delta: UsageDelta) -> None:
        slot = (delta.tenant, delta.day, delta.key_id, delta.model, delta.provider)
        self._totals[slot] = summed(self._totals.get(slot), delta)

    async def totals(self, tenant: str, day: str) -> list[UsageDelta]:
        found = [t for (ten, d, *_), t in self._totals.items() if ten == tenant and d == day]
        return sorted(found, key=lambda t: (t.key_id, t.model, t.provider))


def summed(total: UsageDelta | None, delta: UsageDelta) -> UsageDelta:
    if total is None:
        return delta
    return replace(
        total,
        requests=total.requests + delta.requests,
        prompt_tokens=total.prompt_tokens + delta.prompt_tokens,
        completion_tokens=total.completion_tokens + delta.completion_tokens,
        cached_tokens=total.cached_tokens + delta.cached_tokens,
        cost_usd=total.cost_usd + delta.cost_usd,
        errors=total.errors + delta.errors,
        cache_hits=total.cache_hits + delta.cache_hits,
        fallbacks=total.fallbacks + delta.fallbacks,
        saved_usd=total.saved_usd + delta.saved_usd,
        cache_misses=total.cache_misses + delta.cache_misses,
        cache_stores=total.cache_stores + delta.cache_stores,
    )
