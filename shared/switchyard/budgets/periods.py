"""Budget periods in UTC: the key of the period a moment falls in, and when that period ends.

Keys are unique across kinds (``d2026-11-23``, ``w2026-W48`` (ISO week), ``m2026-11``) because a
scope keeps the counters of all its periods in one item.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchyard.state.ports import BudgetPeriod

PERIODS: tuple[BudgetPeriod, ...] = ("daily", "weekly", "monthly")


def _start(period: BudgetPeriod, now: float) -> datetime:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(period: BudgetPeriod, start: datetime) -> datetime:
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def _key(period: BudgetPeriod, start: datetime) -> str:
    if period == "daily":
        return f"d{start:%Y-%m-%d}"
    if period == "weekly":
        year, week, _ = start.isocalendar()
        return f"w{year}-W{week:02d}"
    return f"m{start:%Y-%m}"


def period_key(period: BudgetPeriod, now: float) -> str:
    return _key(period, _start(period, now))


def previous_key(period: BudgetPeriod, now: float) -> str:
    return _key(period, _start(period, _start(period, now).timestamp() - 1))


def period_end(period: BudgetPeriod, now: float) -> float:
    """Epoch seconds when the period containing ``now`` ends."""
    return _next(period, _start(period, now)).timestamp()
