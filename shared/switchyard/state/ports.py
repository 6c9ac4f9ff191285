"""State ports: one ``Protocol`` per concern, implemented by memory and DynamoDB adapters.

Every port is shaped for a shared store: transitions are compare-and-set on a version and counters
are conditional adds, so the memory adapter behaves the way a conditional ``UpdateItem`` does and
nothing above this package depends on which adapter is behind it. The contract tests
(tests/integration/test_state_contract.py) run one suite per port over every adapter.

Every method may raise :class:`StateUnavailableError` when its store cannot be reached; the
degrading wrappers (:mod:`switchyard.state.degrading`) turn that into an in-memory fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

# The ports' errors (what every method may raise), kept importable from here.
from switchyard.errors import StateThrottledError as StateThrottledError
from switchyard.errors import StateUnavailableError as StateUnavailableError
from switchyard.errors import ValueTooLargeError as ValueTooLargeError

# ---------------------------------------------------------------------------------- breakers


class BreakerStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """One deployment's health. Times are wall-clock epoch seconds (shared between instances)."""

    status: BreakerStatus = BreakerStatus.CLOSED
    failures: int = 0
    window_start: float = 0.0
    opened_at: float = 0.0
    probe_started: float = 0.0
    # A deployment out of quota is kept out until then, without counting as a breaker failure.
    parked_until: float = 0.0
    version: int = 0


class BreakerStore(Protocol):
    async def load(self, deployment_id: str) -> BreakerRecord:
        """The current record; a fresh CLOSED record (version 0) when none exists. A shared store
        may answer from a copy at most its refresh interval old: a stale copy only costs a failed
        ``save``. Raises ``StateUnavailableError`` when the store cannot be read."""
        ...

    async def save(self, deployment_id: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Store ``record`` (its version must be ``expected_version + 1``) only if the stored version
        is still ``expected_version``; False when another writer got there first (a following
        ``load`` then returns the winner's record). Raises ``StateUnavailableError``."""
        ...

    async def load_all(self) -> dict[str, BreakerRecord]:
        """Every record this store knows of, for health summaries. Raises ``StateUnavailableError``."""
        ...


# ---------------------------------------------------------------------------------- limits

MINUTE, HOUR, DAY = 60, 3600, 86400
PERIODS = (MINUTE, HOUR, DAY)


def key_scope(key_id: str) -> str:
    return f"key#{key_id}"


def deployment_scope(deployment_id: str) -> str:
    """A deployment's limits share its breaker's item, so one read refreshes both."""
    return f"dep#{deployment_id}"


@dataclass(frozen=True, slots=True)
class WindowCount:
    """What has been charged to one fixed window (``start`` is a multiple of its period)."""

    start: int
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class WindowCharge:
    """Add ``requests`` and ``tokens`` (negative: give back) to the window of ``period`` starting
    at ``start``, as long as the totals stay within ``max_requests`` / ``max_tokens`` (None: no
    bound). A stored window older than ``start`` counts as empty: the window has rolled over."""

    period: int
    start: int
    requests: int = 0
    tokens: int = 0
    max_requests: int | None = None
    max_tokens: int | None = None

    def fits(self, stored: WindowCount | None) -> bool:
        """Whether the charge may apply on top of ``stored`` (a newer stored window: never)."""
        if stored is not None and stored.start > self.start:
            return False
        used = stored if stored is not None and stored.start == self.start else WindowCount(self.start)
        return _within(used.requests, self.requests, self.max_requests) and _within(
            used.tokens, self.tokens, self.max_tokens
        )


def _within(used: int, amount: int, limit: int | None) -> bool:
    return limit is None or amount <= 0 or used + amount <= limit


@dataclass(frozen=True, slots=True)
class Holding:
    """Concurrency slots one holder (a warm container) has taken, valid until ``expires_at``."""

    slots: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class ScopeState:
    """One scope's shared limit state: its windows by period, and the concurrency holders."""

    windows: dict[int, WindowCount] = field(default_factory=dict)
    holders: dict[str, Holding] = field(default_factory=dict)

    def live_slots(self, now: float, *, excluding: str | None = None) -> int:
        return sum(h.slots for name, h in self.holders.items() if h.expires_at > now and name != excluding)


@dataclass(frozen=True, slots=True)
class LimitResult:
    applied: bool
    state: ScopeState  # after the change when applied, else as found


class LimitStore(Protocol):
    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        """Apply every charge atomically, or none when any would exceed its maximum (or targets a
        window older than the stored one). Raises ``StateUnavailableError``."""
        ...

    async def hold(
        self, scope: str, holder: str, slots: int, *, max_slots: int, now: float, expires_at: float
    ) -> LimitResult:
        """Set ``holder``'s slots (0 removes it) if the live slots of every other holder plus
        ``slots`` stay within ``max_slots``; holders expired at ``now`` are dropped. Lowering one's
        own slots always applies. Raises ``StateUnavailableError``."""
        ...

    async def read(self, scope: str) -> ScopeState:
        """The current state (empty when none). Raises ``StateUnavailableError``."""
        ...


# ---------------------------------------------------------------------------------- cache


@dataclass(frozen=True, slots=True)
class KeptValue:
    """A cache value as kept, fresh or past its TTL: stale answers serve as a last resort when no
    provider can answer (stale-if-error)."""

    value: bytes
    fresh_until: float  # epoch seconds; before ``now``: the value is stale


class ResponseCache(Protocol):
    """Cache entries by key, and the purge markers that make older entries stale
    (:mod:`switchyard.cache.purge`: a purge is one write, whatever it covers)."""

    @property
    def max_value_bytes(self) -> int:
        """The largest value ``put`` accepts."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key`` while it is fresh; None when absent or past its
        ``expires_at``. Raises ``StateUnavailableError``."""
        ...

    async def get_kept(self, key: str) -> KeptValue | None:
        """The value stored under ``key``, fresh or stale, until its ``keep_until``; None when
        absent or gone. Raises ``StateUnavailableError``."""
        ...

    async def put(
        self, key: str, value: bytes, *, expires_at: float, keep_until: float | None = None
    ) -> None:
        """Store ``value``, fresh until ``expires_at`` and kept (for :meth:`get_kept`) until
        ``keep_until`` (None or earlier: ``expires_at``), both epoch seconds, replacing any earlier
        value. Raises ``ValueTooLargeError`` over ``max_value_bytes``, ``StateUnavailableError``."""
        ...

    async def purges(self) -> dict[str, float]:
        """Every purge marker: scope name -> when it was purged (epoch seconds). Raises
        ``StateUnavailableError``."""
        ...

    async def purge(self, scope: str, at: float, *, forget_before: float) -> None:
        """Mark ``scope`` purged at ``at`` (a later marker already there stays), and forget
        markers older than ``forget_before`` (no entry outlives them). Raises
        ``StateUnavailableError``."""
        ...


# ---------------------------------------------------------------------------------- keys, usage

type BudgetPeriod = Literal["daily", "weekly", "monthly"]
# At 100 %: refuse (429 budget_exceeded), or serve from the route's cheaper downgrade model.
type BudgetAction = Literal["block", "downgrade"]


@dataclass(frozen=True, slots=True)
class SigningSalt:
    """One request-signing secret of a key, stored as the random salt it is derived from under
    the gateway's signing master secret (:mod:`switchyard.keys.signatures`), never as the secret.
    A secret replaced by a newer one keeps working until ``expires_at``."""

    salt: str
    created_at: float
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A virtual key, stored hashed: ``key_hash`` is the sha256 of the key, never the key."""

    key_id: str
    key_hash: str
    tenant: str
    name: str = ""
    status: Literal["active", "revoked"] = "active"
    created_at: float = 0.0
    expires_at: float | None = None
    models: tuple[str, ...] = ()  # allowed public models; empty: every model
    # Spend caps in USD per period ("daily", "weekly", "monthly"), and what happens at 100 %.
    budgets: Mapping[BudgetPeriod, Decimal] = field(default_factory=dict)
    budget_action: BudgetAction = "block"
    # Per-key limits ("rpm", "tpm", "max_concurrent", ... as in the routing config's RateLimits).
    limits: Mapping[str, int] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Set when the key was rotated: the key that replaced it (this one expires after the grace).
    replaced_by: str | None = None
    # Guardrail policies (names in the routing config) every request of the key must pass.
    guardrails: tuple[str, ...] = ()
    # Request signing: the key's secrets (newest first), and whether unsigned requests are refused.
    signing: tuple[SigningSalt, ...] = ()
    require_signature: bool = False


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant: the owner of keys, with an optional budget of its own."""

    tenant: str
    name: str = ""
    created_at: float = 0.0
    budgets: Mapping[BudgetPeriod, Decimal] = field(default_factory=dict)
    budget_action: BudgetAction = "block"
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Guardrail policies for every key of the tenant, and whether every key must sign requests.
    guardrails: tuple[str, ...] = ()
    require_signature: bool = False


class KeyStore(Protocol):
    async def get(self, key_id: str) -> KeyRecord | None:
        """The record, revoked ones included; None when absent or past ``expires_at``. Raises
        ``StateUnavailableError``."""
        ...

    async def put(self, record: KeyRecord) -> None:
        """Create or replace the record. Raises ``StateUnavailableError``."""
        ...

    async def revoke(self, key_id: str) -> bool:
        """Mark the key revoked; False when there is no such key. Raises ``StateUnavailableError``."""
        ...

    async def list_keys(self, tenant: str) -> list[KeyRecord]:
        """The tenant's keys (revoked ones included, expired ones not), sorted by key id. Raises
        ``StateUnavailableError``."""
        ...

    async def put_tenant(self, record: TenantRecord) -> None:
        """Create or replace the tenant. Raises ``StateUnavailableError``."""
        ...

    async def get_tenant(self, tenant: str) -> TenantRecord | None:
        """The tenant; None when absent. Raises ``StateUnavailableError``."""
        ...

    async def list_tenants(self) -> list[TenantRecord]:
        """Every tenant, sorted by id. Raises ``StateUnavailableError``."""
        ...


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """One request's usage, added to the aggregate of (tenant, day, key, model, provider)."""

    tenant: str
    key_id: str
    model: str
    day: str  # YYYY-MM-DD, UTC
    requests: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    provider: str = ""
    errors: int = 0  # requests that got no answer
    cache_hits: int = 0
    fallbacks: int = 0  # answers that took more than one upstream attempt
    saved_usd: Decimal = Decimal(0)  # what cache hits saved
    # Answers a provider served after the cache was looked up and had none; of those, the ones
    # stored (the cache statistics: switchyard.cache.stats).
    cache_misses: int = 0
    cache_stores: int = 0


class UsageLedger(Protocol):
    async def add(self, delta: UsageDelta) -> None:
        """Atomically add every counter of ``delta`` to its aggregate. Raises
        ``StateUnavailableError``."""
        ...

    async def totals(self, tenant: str, day: str) -> list[UsageDelta]:
        """The tenant's aggregates for ``day``, sorted by key id, model, provider. Raises
        ``StateUnavailableError``."""
        ...


# ---------------------------------------------------------------------------------- budgets


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """What one budget scope has spent (and reserved) per period key, after a charge that applied,
    or as found when it did not."""

    applied: bool
    spent: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class BudgetOverride:
    """The global budget action set by the budget function when a cost alarm fires: every router
    applies it until ``until`` (epoch seconds; None: until the alarm clears it)."""

    action: Literal["block", "downgrade"]
    reason: str
    since: float
    until: float | None = None


def summed(shards: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """A sharded scope's counters by period key: the sum of its shards' (``BudgetStore.spent``)."""
    total: dict[str, Decimal] = {}
    for counters in shards:
        for period, value in counters.items():
            total[period] = total.get(period, Decimal(0)) + value
    return total


class BudgetStore(Protocol):
    async def charge(
        self,
        scope: str,
        amount: Decimal,
        caps: Mapping[str, Decimal | None],
        *,
        expires_at: float,
        drop: Sequence[str] = (),
        shard: int = 0,
    ) -> BudgetResult:
        """Add ``amount`` to the counter of every period key in ``caps`` of the scope's ``shard``
        at once, only if each capped counter stays within its cap (None: no cap; an amount ≤ 0
        always applies); the result has that shard's counters. A sharded scope's caps are each
        shard's share. Applied once however often the store's client retries it. ``drop`` names
        period keys of past periods to forget in the same write; the shard's record lives until
        ``expires_at``. Raises ``StateUnavailableError`` (``StateThrottledError`` when throttled)."""
        ...

    async def spent(self, scope: str, *, shards: int = 1) -> Mapping[str, Decimal]:
        """The scope's counters by period key, summed over its ``shards`` (empty when none).
        Raises ``StateUnavailableError``."""
        ...

    async def shard_spent(self, scope: str, shards: int) -> list[Mapping[str, Decimal]]:
        """Each of the scope's ``shards``' counters, in shard order. Raises
        ``StateUnavailableError``."""
        ...

    async def claim_notice(self, scope: str, notice: str, *, expires_at: float) -> bool:
        """True for exactly one caller per (scope, notice) until ``expires_at``: a threshold's
        event is sent once per period however many instances see it cross. Raises
        ``StateUnavailableError``."""
        ...

    async def override(self) -> BudgetOverride | None:
        """The global override; None when none is set or it has run out. Raises
        ``StateUnavailableError``."""
        ...

    async def context(self, tenant: str) -> tuple[BudgetOverride | None, TenantRecord | None]:
        """The global override and ``tenant``'s record (its budgets) in one read: what a request's
        budget check needs that is not in its key. Raises ``StateUnavailableError``."""
        ...

    async def set_override(self, override: BudgetOverride | None, *, changed_at: float) -> bool:
        """Set (None: clear) the global override as of ``changed_at`` (epoch seconds: when the
        alarm changed state). Alarm events may arrive late, out of order or twice, so the write
        applies only when nothing newer or equal is recorded: False for a stale or repeated
        change, which then changes nothing. Raises ``StateUnavailableError``."""
        ...
