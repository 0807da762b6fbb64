"""Retry schedule: exponential, capped, with jitter (half fixed, half random)."""

from __future__ import annotations

import random

import pytest

from qbo_sync.domain.backoff import backoff_delay


def lowest(low: float, high: float) -> float:
    return low


def highest(low: float, high: float) -> float:
    return high


def test_schedule_doubles_between_half_and_full_step() -> None:
    lows = [backoff_delay(n, 0.5, 60.0, lowest) for n in range(1, 6)]
    highs = [backoff_delay(n, 0.5, 60.0, highest) for n in range(1, 6)]
    assert lows == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert highs == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_schedule_is_capped() -> None:
    assert backoff_delay(20, 0.5, 60.0, highest) == 60.0
    assert backoff_delay(20, 0.5, 60.0, lowest) == 30.0


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 8])
def test_jitter_spreads_concurrent_retries(retry: int) -> None:
    rng = random.Random(7)
    delays = {backoff_delay(retry, 0.5, 60.0, rng.uniform) for _ in range(50)}
    step = min(60.0, 0.5 * 2 ** (retry - 1))
    assert len(delays) == 50
    assert all(step / 2 <= d <= step for d in delays)
