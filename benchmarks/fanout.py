"""Limits under fan-out: one key's limit shared by 1, 10 and 100 instances, simulated.

Every instance is a real :class:`~switchyard.limits.limiter.Limiter` (its own leases, its own
demand) on one shared :class:`~switchyard.state.memory.MemoryLimitStore` that counts the calls a
DynamoDB store would make (one conditional ``UpdateItem`` per charge). Time is simulated: arrivals
come at their times, each to a random instance (Lambda sends a request to any idle instance), for
``--minutes`` whole minute windows of a key limited to ``--rpm``. Two arrival patterns, each at
twice the limit (so admission, not demand, decides) and at half of it (everything must pass):

    uniform   Poisson arrivals at the mean rate
    bursty    one burst every 10 s on average, each burst's requests within 200 ms

Reported per window: admitted / limit (over the limit; 1.0 is perfect, never above) or admitted /
demand (under it), and store calls per request, for the demand-sized leases
(``limits.lease_horizon_s``) and, as the baseline in the same run, the fixed leases of
``lease_fraction`` that came before them.

    .venv/bin/python benchmarks/fanout.py [--rpm 600] [--minutes 5] [--seeds 3] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from switchyard.config.routing import LimitsConfig
from switchyard.limits.limiter import Grant, Limiter
from switchyard.limits.windows import LimitSpec, WindowLimit
from switchyard.state.memory import MemoryLimitStore
from switchyard.state.ports import MINUTE, LimitResult, WindowCharge

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Limits under fan-out"
T0 = 1_800_000_000.0  # a minute boundary
BURST_EVERY_S = 10.0
BURST_SPREAD_S = 0.2


class CountingStore(MemoryLimitStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def charge(self, scope: str, charges: Sequence[WindowCharge]) -> LimitResult:
        self.calls += 1
        return await super().charge(scope, charges)


class SimClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def arrivals(pattern: str, per_minute: float, minutes: int, rng: random.Random) -> list[float]:
    end = T0 + minutes * 60
    times: list[float] = []
    if pattern == "uniform":
        t = T0
        while (t := t + rng.expovariate(per_minute / 60)) < end:
            times.append(t)
        return times
    per_burst = per_minute / 60 * BURST_EVERY_S
    t = T0
    while (t := t + rng.expovariate(1 / BURST_EVERY_S)) < end:
        size = max(1, round(rng.expovariate(1 / per_burst)))
        times += [t + rng.random() * BURST_SPREAD_S for _ in range(size)]
    return sorted(x for x in times if x < end)


@dataclass(frozen=True)
class Outcome:
    admitted_by_window: list[int]
    demand_by_window: list[int]
    calls: int
    requests: int


async def simulate(
    instances: int, times: list[float], limit: int, horizon_s: float, rng: random.Random
) -> Outcome:
    store, clock = CountingStore(), SimClock()
    defaults = LimitsConfig()
    limiters = [
        Limiter(
            store,
            lease_fraction=defaults.lease_fraction,
            lease_horizon_s=horizon_s,
            clock=clock,
            holder=str(i),
        )
        for i in range(instances)
    ]
    spec = LimitSpec((WindowLimit(MINUTE, limit, None),))
    windows = int((times[-1] - T0) // 60) + 1 if times else 0
    admitted, demand = [0] * windows, [0] * windows
    for t in times:
        clock.now = t
        window = int((t - T0) // 60)
        demand[window] += 1
        if isinstance(await rng.choice(limiters).admit("key#k", spec, 0), Grant):
            admitted[window] += 1
    return Outcome(admitted, demand, store.calls, len(times))


async def run(rpm: int, minutes: int, seeds: int) -> list[dict[str, object]]:
    horizon = LimitsConfig().lease_horizon_s
    rows: list[dict[str, object]] = []
    for pattern in ("uniform", "bursty"):
        for load in (2.0, 0.5):
            for instances in (1, 10, 100):
                for name, h in (("demand-sized", horizon), ("fixed (before)", 0.0)):
                    ratios, calls, peak = [], [], 0
                    for seed in range(seeds):
                        times = arrivals(pattern, rpm * load, minutes, random.Random(seed))
                        out = await simulate(instances, times, rpm, h, random.Random(1000 + seed))
                        # What was admitted of what could have been: the limit, or the demand when
                        # a window (a quiet one between bursts) asked for less.
                        ratios += [
                            a / min(rpm, d)
                            for a, d in zip(out.admitted_by_window, out.demand_by_window, strict=True)
                            if d
                        ]
                        peak = max(peak, *out.admitted_by_window)
                        calls.append(out.calls / max(1, out.requests))
                    rows.append(
                        {
                            "pattern": pattern,
                            "load": load,
                            "instances": instances,
                            "leases": name,
                            "ratio_mean": statistics.mean(ratios),
                            "ratio_median": statistics.median(ratios),
                            "ratio_min": min(ratios),
                            "ratio_max": max(ratios),
                            "calls_per_request": statistics.mean(calls),
                            "over_limit": peak > rpm,
                        }
                    )
    return rows


def report(rows: list[dict[str, object]], rpm: int, minutes: int, seeds: int) -> str:
    cfg = LimitsConfig()
    lines = [
        HEADING,
        "",
        "`benchmarks/fanout.py`: one key limited to "
        f"{rpm} requests a minute, {minutes} minute windows x {seeds} seeds per row, arrivals sent",
        "to a random instance; real limiters on one shared store (calls = the conditional writes a",
        "DynamoDB store would make). Demand-sized leases: `lease_horizon_s` "
        f"{cfg.lease_horizon_s:g}, at most `lease_fraction` {cfg.lease_fraction:g} of the limit;",
        "fixed: `lease_fraction` of the limit every time.",
        "The ratio is admitted / min(limit, demand) per window: 1.0 admits all there was room for;",
        "below it, requests were refused while the limit had room. No window admitted more than the",
        "limit in any row (the benchmark exits non-zero if one does).",
        "",
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        "| arrivals | demand | instances | leases | admitted ratio mean | median | worst window "
        "| calls / request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pattern']} | {r['load']:g}x limit | {r['instances']} | {r['leases']} "
            f"| {r['ratio_mean']:.3f} | {r['ratio_median']:.3f} | {r['ratio_min']:.3f} "
            f"| {r['calls_per_request']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def write_section(text: str, doc: Path = DOC) -> None:
    current = doc.read_text(encoding="utf-8")
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start is None:
        doc.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    doc.write_text("".join(lines[:start]) + text + ("\n" + tail if tail else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(args.rpm, args.minutes, args.seeds))
    text = report(rows, args.rpm, args.minutes, args.seeds)
    print(text)
    if args.write:
        write_section(text)
    over = [r for r in rows if r["over_limit"]]
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
