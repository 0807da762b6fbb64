"""Token bucket shape: no sliding window over budget, and >= 90 % of the budget as throughput."""

from __future__ import annotations

import bisect

import pytest

from qbo_sync.adapters.store.rate_limit import MICRO, BucketShape


def greedy_sends(shape: BucketShape, seconds: float, holders: int = 8) -> list[int]:
    """Send times (µs) of ``holders`` callers that each take a token again the moment their last
    one was sent (zero-length requests), the bucket starting full: the hardest load it can see."""
    balance, updated = shape.capacity * MICRO, 0
    ready = [0] * holders  # when each holder asks for its next token
    sends: list[int] = []
    end = int(seconds * MICRO)
    while min(ready) <= end:
        holder = ready.index(min(ready))
        now = max(ready[holder], updated)
        balance = shape.refilled(balance, now - updated) - MICRO
        updated = now
        send = now + round(shape.wait_seconds(balance) * MICRO)
        sends.append(send)
        ready[holder] = send
    return sorted(sends)


def max_in_any_window(sends: list[int], window_us: int) -> int:
    return max(bisect.bisect_right(sends, g + window_us - 1) - i for i, g in enumerate(sends))


def test_production_shape() -> None:
    shape = BucketShape.for_budget(500, 60.0)
    assert shape.refill_per_second == 7.5  # 450 a minute sustained
    assert shape.capacity == 46  # 500 - 7.5 * 60.5


@pytest.mark.parametrize(
    ("budget", "window"),
    [(500, 60.0), (100, 6.0), (60, 60.0), (20, 6.0), (10, 10.0), (3, 6.0), (1000, 60.0)],
)
def test_no_window_including_slack_exceeds_budget(budget: int, window: float) -> None:
    shape = BucketShape.for_budget(budget, window)
    sends = greedy_sends(shape, seconds=window * 6)
    slack_us = int(0.5 * MICRO)
    assert max_in_any_window(sends, int(window * MICRO) + slack_us) <= budget


@pytest.mark.parametrize(("budget", "window"), [(500, 60.0), (100, 6.0), (1000, 60.0), (60, 60.0)])
def test_sustained_throughput_is_at_least_ninety_percent(budget: int, window: float) -> None:
    shape = BucketShape.for_budget(budget, window)
    windows = 20
    sends = greedy_sends(shape, seconds=window * windows)
    in_time = [g for g in sends if g <= window * windows * MICRO]
    assert len(in_time) / windows >= 0.9 * budget


def test_tiny_budget_keeps_a_one_token_bucket() -> None:
    shape = BucketShape.for_budget(3, 6.0)
    assert shape.capacity == 1
    assert shape.refill_per_second == pytest.approx(2 / 6.5)


def test_refill_never_exceeds_capacity_and_ignores_clock_going_back() -> None:
    shape = BucketShape(capacity=5, refill_per_second=2.0)
    assert shape.refilled(0, 10 * MICRO) == 5 * MICRO
    assert shape.refilled(MICRO, -3 * MICRO) == MICRO
    assert shape.refilled(0, MICRO // 4) == MICRO // 2
    assert shape.refilled(-3 * MICRO, MICRO) == -MICRO  # credit taken by earlier holders is repaid first
    assert shape.wait_seconds(-MICRO // 2) == pytest.approx(0.25)
    assert shape.wait_seconds(0) == 0
