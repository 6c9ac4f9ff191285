"""Retry delays: exponential backoff with full jitter, and Retry-After within a deadline."""

from __future__ import annotations

import random


def backoff_delay(retry_number: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    [0, min(cap, base * 2**n)], which spreads synchronized retries of many callers apart."""
    return rng.uniform(0, min(cap_s, base_s * (2**retry_number)))


def wait_for_retry(
    retry_after: float | None, fallback_delay: float, *, max_wait_s: float, remaining_s: float
) -> float | None:
    """How long to wait before retrying the same deployment, or None to move on instead.

    The provider's Retry-After wins over our own backoff; a wait longer than ``max_wait_s`` or one
    that would not leave time for the call itself within the request deadline means fail over now.
    """
    wait = fallback_delay if retry_after is None else retry_after
    if wait > max_wait_s or wait >= remaining_s:
        return None
    return wait
