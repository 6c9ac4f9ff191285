from __future__ import annotations

import random

import pytest

from switchyard.routing.backoff import backoff_delay, wait_for_retry


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, 10])
def test_full_jitter_stays_within_the_exponential_cap(n: int) -> None:
    rng = random.Random(n)
    ceiling = min(8.0, 0.25 * 2**n)
    delays = [backoff_delay(n, 0.25, 8.0, rng) for _ in range(500)]
    assert all(0 <= d <= ceiling for d in delays)
    # full jitter spreads over the whole range, not just near the cap
    assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_retry_after_wins_over_backoff() -> None:
    assert wait_for_retry(2.0, 0.1, max_wait_s=10, remaining_s=30) == 2.0


def test_backoff_used_when_no_retry_after() -> None:
    assert wait_for_retry(None, 0.3, max_wait_s=10, remaining_s=30) == 0.3


def test_wait_longer_than_allowed_means_fail_over() -> None:
    assert wait_for_retry(11.0, 0.1, max_wait_s=10, remaining_s=30) is None


def test_wait_that_does_not_fit_the_deadline_means_fail_over() -> None:
    assert wait_for_retry(5.0, 0.1, max_wait_s=10, remaining_s=5.0) is None
    assert wait_for_retry(4.0, 0.1, max_wait_s=10, remaining_s=5.0) == 4.0
