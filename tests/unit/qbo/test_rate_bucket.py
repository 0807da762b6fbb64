"""The request budget's arithmetic: no sliding window over budget, >= 90 % of it as throughput, and the
acquire's plan (leases, GCRA step, expired leases, sleeps no longer than a lease allows)."""

from __future__ import annotations

import bisect

import pytest

from qbo_sync.adapters.store.rate_limit import (
    MICRO,
    BucketShape,
    BudgetState,
    LeasesFull,
    RateSpent,
    Take,
    plan_take,
)

HOLDERS = 8
UNBOUNDED_SLEEP_US = 10**12


def stored(tat_us: int, **leases: int) -> BudgetState:
    return BudgetState(tat_us=tat_us, leases=leases, version=1, stored=True)


def applied(shape: BucketShape, state: BudgetState, take: Take, lease: str, until_us: int) -> BudgetState:
    """The item after the acquire's UpdateItem (what its SET/REMOVE clauses do in DynamoDB)."""
    leases = {k: v for k, v in state.leases.items() if k not in take.expired} | {lease: until_us}
    tat = take.restart_tat_us if take.restart_tat_us is not None else state.tat_us + shape.interval_us
    return BudgetState(tat_us=tat, leases=leases, version=state.version + 1, stored=True)


def greedy_sends(shape: BucketShape, seconds: float, holders: int = HOLDERS) -> tuple[list[int], int]:
    """Send times (µs) of ``holders`` callers that each ask again the moment their last request was
    sent (zero-length requests), the budget starting unused: the hardest load it can see. Every
    step goes through ``plan_take``; also returns the longest sleep any caller was asked for."""
    state = BudgetState()
    ready = [0] * holders  # when each holder asks for its next request
    sends: list[int] = []
    longest_sleep = 0
    end = int(seconds * MICRO)
    while min(ready) <= end:
        holder = ready.index(min(ready))
        now = ready[holder]
        released = {k: v for k, v in state.leases.items() if k != f"h{holder}"}  # its request is done
        state = BudgetState(state.tat_us, released, state.version, state.stored)
        plan = plan_take(shape, state, now, holders, UNBOUNDED_SLEEP_US)
        assert isinstance(plan, Take)
        state = applied(shape, state, plan, f"h{holder}", now + 35 * MICRO)
        send = max(now, shape.send_at(state.tat_us))
        longest_sleep = max(longest_sleep, send - now)
        sends.append(send)
        ready[holder] = send
    return sorted(sends), longest_sleep


def max_in_any_window(sends: list[int], window_us: int) -> int:
    return max(bisect.bisect_right(sends, g + window_us - 1) - i for i, g in enumerate(sends))


def test_production_shape() -> None:
    shape = BucketShape.for_budget(500, 60.0)
    assert shape.refill_per_second == 7.5  # 450 a minute sustained
    assert shape.capacity == 46  # 500 - 7.5 * 60.5
    assert shape.interval_us == 133_334  # 1/7.5 s, rounded up


BUDGETS = [(500, 60.0), (100, 6.0), (60, 60.0), (20, 6.0), (10, 10.0), (3, 6.0), (1000, 60.0)]


@pytest.mark.parametrize(("budget", "window"), BUDGETS)
def test_no_window_including_slack_exceeds_budget(budget: int, window: float) -> None:
    shape = BucketShape.for_budget(budget, window)
    sends, _ = greedy_sends(shape, seconds=window * 6)
    slack_us = int(0.5 * MICRO)
    assert max_in_any_window(sends, int(window * MICRO) + slack_us) <= budget


@pytest.mark.parametrize(("budget", "window"), [(500, 60.0), (100, 6.0), (1000, 60.0), (60, 60.0)])
def test_sustained_throughput_is_at_least_ninety_percent(budget: int, window: float) -> None:
    shape = BucketShape.for_budget(budget, window)
    windows = 20
    sends, _ = greedy_sends(shape, seconds=window * windows)
    in_time = [g for g in sends if g <= window * windows * MICRO]
    assert len(in_time) / windows >= 0.9 * budget


@pytest.mark.parametrize(("budget", "window"), BUDGETS)
def test_no_holder_sleeps_longer_than_the_bound_a_lease_covers(budget: int, window: float) -> None:
    shape = BucketShape.for_budget(budget, window)
    _, longest_sleep = greedy_sends(shape, seconds=window * 6)
    assert 0 < longest_sleep <= shape.longest_sleep_us(HOLDERS)


def test_tiny_budget_keeps_a_one_token_bucket() -> None:
    shape = BucketShape.for_budget(3, 6.0)
    assert shape.capacity == 1
    assert shape.refill_per_second == pytest.approx(2 / 6.5)


def test_gcra_step_is_a_token_bucket_step() -> None:
    shape = BucketShape(capacity=5, refill_per_second=2.0)  # T = 0.5 s
    assert shape.interval_us == MICRO // 2
    idle = 10 * MICRO
    assert shape.taken(0, idle) == idle + MICRO // 2  # a full bucket: restart at now
    assert shape.send_at(shape.taken(0, idle)) == idle - 2 * MICRO  # in the past: send at once
    backlog = idle + 3 * MICRO  # 6 tokens' time ahead: a balance of -1 (one token on credit)
    assert shape.send_at(shape.taken(backlog, idle)) == idle + MICRO  # -2 is paid back in 2 refills
    assert shape.taken(idle, idle - MICRO) == idle + MICRO // 2  # a peer's clock ahead: never refill twice


def test_plan_restarts_an_idle_schedule_and_continues_a_busy_one() -> None:
    shape = BucketShape(capacity=5, refill_per_second=2.0)
    now = 100 * MICRO
    idle = plan_take(shape, stored(now - 1), now, HOLDERS, MICRO)
    assert idle == Take(expired=(), restart_tat_us=now + MICRO // 2, latest_tat_us=now + 3 * MICRO)
    busy = plan_take(shape, stored(now + MICRO), now, HOLDERS, MICRO)
    assert busy == Take(expired=(), restart_tat_us=None, latest_tat_us=now + 3 * MICRO)


def test_plan_drops_expired_leases_that_fill_the_map_and_waits_when_every_lease_is_live() -> None:
    shape = BucketShape(capacity=5, refill_per_second=2.0)
    now = 100 * MICRO
    live = {f"live{n}": now + 1 for n in range(HOLDERS - 1)}
    state = stored(0, **live, dead1=now, dead0=now - 1)
    plan = plan_take(shape, state, now, HOLDERS, MICRO)
    assert isinstance(plan, Take)
    assert plan.expired == ("dead0", "dead1")
    roomy = plan_take(shape, stored(0, live=now + 1, dead=now - 1), now, HOLDERS, MICRO)
    assert isinstance(roomy, Take)
    assert roomy.expired == ()  # not in the way: no condition on them a stale view could fail
    assert plan_take(shape, stored(0, **live, one_more=now + 1), now, HOLDERS, MICRO) == LeasesFull()


def test_plan_refuses_a_step_the_caller_could_not_wait_for() -> None:
    shape = BucketShape(capacity=1, refill_per_second=1.0)
    now = 100 * MICRO
    tat = now + 3 * MICRO  # the next request may leave at tat: 3 s from now
    assert plan_take(shape, stored(tat), now, HOLDERS, 2 * MICRO) == RateSpent(available_at_us=tat)
    plan = plan_take(shape, stored(tat), now, HOLDERS, 3 * MICRO)
    assert plan == Take(expired=(), restart_tat_us=None, latest_tat_us=tat)


def test_state_of_an_absent_item_is_an_unused_budget() -> None:
    assert BudgetState.of_item(None) == BudgetState()
    assert BudgetState.of_item({"pk": "RATE#1", "sk": "BUDGET", "version": 3}) == BudgetState()
    first = plan_take(BucketShape(1, 1.0), BudgetState(), MICRO, 1, 0)
    assert first == Take(expired=(), restart_tat_us=2 * MICRO, latest_tat_us=MICRO)
