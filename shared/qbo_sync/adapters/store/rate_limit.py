"""Per-realm QBO request budget shared by every concurrent Lambda (implements ``RequestBudget``).

One item per realm, ``pk=RATE#<realm>``, ``sk=BUDGET`` (design, proofs and measurements:
docs/qbo-rate-limits.md):

* ``tat_us``: the per-window rate as GCRA, a token bucket kept as one "theoretical arrival time"
  (``BucketShape``): a request moves it to ``max(tat, now) + T`` and leaves at ``tat - C·T``,
  after a short sleep when that is still ahead (a token taken on credit).
* ``leases``: the in-flight limit, a map ``lease id -> lease_until_us`` with at most
  ``max_in_flight`` leases. A Lambda that dies holding one blocks it until it expires
  (``lease_seconds`` after it was taken, plus the longest rate sleep); an acquire that finds the
  map full drops the expired ones.
* ``version``: bumped by every write, so the threads of a process keep the newest state seen.

Cost per QBO request while the realm has room (the hot path): two UpdateItem calls and no read.
The acquire is one conditional UpdateItem taking a lease and a rate step together, planned on the
item as this process last saw it (every write returns it: ``ReturnValues=ALL_NEW``); the release
is one unconditional UpdateItem removing the lease. Each is 1 WCU (the item stays far below 1 KB),
so 2 WCU and 0 RCU per request. A lost condition returns the item as it now is
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``, no read) and the acquire is planned again on it
(1 WCU more). Only a process's first acquire (one read) and a realm with every lease live
(consistent reads polling with backoff until one is released, 1 RCU each) read the item.

Within one process a semaphore admits at most ``max_in_flight`` threads per realm to the table, so
a process's surplus threads wait in memory instead of polling DynamoDB. A caller gives up with
``QboThrottled`` when it cannot get a lease and a rate step within ``max_wait_seconds``.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from qbo_sync.adapters.store.dynamo import as_int, condition_failed
from qbo_sync.adapters.store.keys import rate_limit_pk
from qbo_sync.observability import logger
from qbo_sync.ports.qbo import QboThrottled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTableUpdateItemTypeDef

MICRO = 1_000_000  # times are integer microseconds: exact in DynamoDB and in the arithmetic
BUDGET_SK = "BUDGET"
# Network latency and clock skew between Lambdas: a step is taken up to this long before QBO
# timestamps the request, and peers' clocks may disagree by this much.
CLOCK_SLACK_US = 500_000
_POLL_FIRST_SECONDS = 0.02
_POLL_MAX_SECONDS = 0.5
_jitter = random.Random()  # noqa: S311 - spreads polling; not a security use
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class BucketShape:
    """Capacity ``C`` and refill rate ``r`` of a token bucket that honours ``per_window`` per window.

    At most ``C + r * L`` tokens can be spent in any interval of length ``L``. A token is spent up
    to the clock slack ``s`` before QBO timestamps the request, so QBO's window of length ``W``
    sees tokens from an interval of ``W + s``; hence ``C + r * (W + s) <= budget``. The rate is
    set to ``throughput`` of the budget and the capacity takes what is left.

    The bucket is kept as GCRA's one timestamp, the theoretical arrival time ``tat``: a balance
    ``b`` at time ``t`` is ``tat = t + (C - b) * T`` with ``T = 1/r``, a full bucket any
    ``tat <= t``. Taking a token is ``tat = max(tat, now) + T``; the taker may send when the new
    balance is not negative, at ``tat - C * T``.
    """

    capacity: int
    refill_per_second: float

    @classmethod
    def for_budget(
        cls, per_window: int, window_seconds: float, slack_seconds: float = 0.5, throughput: float = 0.9
    ) -> BucketShape:
        horizon = window_seconds + slack_seconds
        rate = throughput * per_window / window_seconds
        capacity = math.floor(per_window - rate * horizon)
        if capacity < 1:  # tiny budgets: keep a one-token bucket and give up some throughput
            return cls(capacity=1, refill_per_second=(per_window - 1) / horizon)
        return cls(capacity=capacity, refill_per_second=rate)

    @property
    def interval_us(self) -> int:
        """``T``, one token's refill time, rounded up (a hair under ``r``: the safe side)."""
        return math.ceil(MICRO / self.refill_per_second)

    def taken(self, tat_us: int, now_us: int) -> int:
        """The TAT after one more token taken at ``now_us``."""
        return max(tat_us, now_us) + self.interval_us

    def send_at(self, tat_us: int) -> int:
        """When the request whose token moved the TAT to ``tat_us`` may leave."""
        return tat_us - self.capacity * self.interval_us

    def longest_sleep_us(self, holders: int) -> int:
        """The longest a taker sleeps while at most ``holders`` (itself included) hold a token not
        yet sent: their send times are ``T`` apart and the first is at most ``T`` ahead."""
        return holders * self.interval_us


@dataclass(frozen=True)
class BudgetState:
    """The realm's budget item as last seen; ``stored`` is False while there is no item yet."""

    tat_us: int = 0
    leases: Mapping[str, int] = field(default_factory=dict)  # lease id -> lease_until_us
    version: int = 0
    stored: bool = False

    @classmethod
    def of_item(cls, item: Mapping[str, Any] | None) -> BudgetState:
        if not item or "leases" not in item:
            return cls()
        leases = {str(lease): as_int(until) for lease, until in item["leases"].items()}
        return cls(as_int(item["tat_us"]), leases, as_int(item["version"]), stored=True)


@dataclass(frozen=True)
class Take:
    """Room for one more request: one conditional write takes a lease and a rate step.

    ``expired`` leases that fill the map are dropped in the same write. ``restart_tat_us`` is the
    new TAT when the stored one is in the past (the write requires it still is); None: one step on
    from the stored TAT, which the write requires to lie between now and ``latest_tat_us`` (beyond
    it the caller would sleep longer than it may).
    """

    expired: tuple[str, ...]
    restart_tat_us: int | None
    latest_tat_us: int


@dataclass(frozen=True)
class LeasesFull:
    """Every lease is live: wait for a release (or an expiry)."""


@dataclass(frozen=True)
class RateSpent:
    """The next rate step leaves at ``available_at_us``, later than the caller may sleep."""

    available_at_us: int


def plan_take(
    shape: BucketShape, state: BudgetState, now_us: int, max_in_flight: int, max_sleep_us: int
) -> Take | LeasesFull | RateSpent:
    """What a caller at ``now_us`` that may sleep ``max_sleep_us`` for its rate step does next."""
    if sum(until > now_us for until in state.leases.values()) >= max_in_flight:
        return LeasesFull()
    available_at_us = shape.send_at(shape.taken(state.tat_us, now_us))
    if available_at_us > now_us + max_sleep_us:
        return RateSpent(available_at_us)
    expired = sorted(lease for lease, until in state.leases.items() if until <= now_us)
    # Expired leases (their Lambda died, or this process saw them long ago) are dropped only when
    # they fill the map: the write must then require them to exist, which a stale view may miss.
    in_the_way = len(state.leases) >= max_in_flight
    return Take(
        expired=tuple(expired) if in_the_way else (),
        restart_tat_us=shape.taken(state.tat_us, now_us) if state.tat_us < now_us else None,
        latest_tat_us=now_us + max_sleep_us + (shape.capacity - 1) * shape.interval_us,
    )


class _RealmInProcess:
    """What the threads of one process share per realm: the gate and the newest item state seen."""

    def __init__(self, gate_size: int) -> None:
        self.gate = threading.BoundedSemaphore(gate_size)
        self._lock = threading.Lock()
        self._state: BudgetState | None = None

    def last_seen(self) -> BudgetState | None:
        with self._lock:
            return self._state

    def saw(self, state: BudgetState) -> None:
        with self._lock:
            if self._state is None or state.version >= self._state.version:
                self._state = state


_realms: dict[tuple[str, str], _RealmInProcess] = {}
_realms_lock = threading.Lock()


def _realm_in_process(table_name: str, pk: str, gate_size: int) -> _RealmInProcess:
    with _realms_lock:
        return _realms.setdefault((table_name, pk), _RealmInProcess(gate_size))


class DynamoRequestBudget:
    def __init__(
        self,
        table: Table,
        realm_id: str,
        max_in_flight: int = 8,
        per_minute: int = 500,
        *,
        window_seconds: float = 60.0,
        lease_seconds: float = 35.0,
        max_wait_seconds: float = 20.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``per_minute`` is the budget per ``window_seconds`` (60 in production; tests scale both).

        ``lease_seconds`` must outlast the longest request (the client's timeout plus a margin) or a
        slow request's lease could expire and its place be taken while it is still running; a lease
        also covers the rate sleep before the request (at most ``max_in_flight`` steps plus the
        clock slack, which the acquire's condition enforces).
        """
        self._table = table
        pk = rate_limit_pk(realm_id)
        self._key = {"pk": pk, "sk": BUDGET_SK}
        self._max_in_flight = max_in_flight
        self._shape = BucketShape.for_budget(per_minute, window_seconds)
        self._lease_us = int(lease_seconds * MICRO)
        self._longest_sleep_us = self._shape.longest_sleep_us(max_in_flight) + CLOCK_SLACK_US
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._realm = _realm_in_process(table.name, pk, max_in_flight)

    @contextmanager
    def acquire(self) -> Iterator[None]:
        deadline = time.monotonic() + self._max_wait
        if not self._realm.gate.acquire(timeout=self._max_wait):
            raise self._throttled("request slot")
        try:
            lease, send_at_us = self._take(deadline)
            try:
                pause_us = send_at_us - self._now_us()
                if pause_us > 0:  # the rate step was taken on credit: wait until it is paid back
                    self._sleep(pause_us / MICRO)
                yield
            finally:
                self._release(lease)
        finally:
            self._realm.gate.release()

    def _now_us(self) -> int:
        return int(self._clock() * MICRO)

    def _throttled(self, what: str, retry_after_seconds: float | None = None) -> QboThrottled:
        return QboThrottled(
            status=None,
            code=None,
            message=f"no QBO {what} free for this realm within {self._max_wait:g} s",
            retry_after_seconds=retry_after_seconds,
        )

    def _take(self, deadline: float) -> tuple[str, int]:
        """Take a lease and a rate step in one conditional write; returns (lease id, send time)."""
        lease = uuid.uuid4().hex[:16]
        state, fresh = self._realm.last_seen(), False
        if state is None:  # this process's first request for the realm
            state, fresh = self._read(), True
        poll = _POLL_FIRST_SECONDS
        while True:
            left_us = int((deadline - time.monotonic()) * MICRO)
            if left_us <= 0:
                raise self._throttled("request slot")  # lost every race until the deadline
            now_us = self._now_us()
            max_sleep_us = min(self._longest_sleep_us, left_us)
            plan = plan_take(self._shape, state, now_us, self._max_in_flight, max_sleep_us)
            if isinstance(plan, RateSpent):  # a stale state only understates the TAT: no read needed
                raise self._throttled("request budget", (plan.available_at_us - now_us) / MICRO)
            if isinstance(plan, Take):
                won, state = self._write(plan, state, lease, now_us, now_us + max_sleep_us + self._lease_us)
                if won:
                    return lease, self._shape.send_at(state.tat_us)
                fresh = True  # someone else wrote first: plan again on what they left
                continue
            if fresh:  # every lease live right now: give holders time to finish
                delay = _jitter.uniform(poll / 2, poll)
                if time.monotonic() + delay > deadline:
                    raise self._throttled("request slot")
                self._sleep(delay)
                poll = min(_POLL_MAX_SECONDS, poll * 2)
            state, fresh = self._read(), True

    def _read(self) -> BudgetState:
        state = BudgetState.of_item(self._table.get_item(Key=self._key, ConsistentRead=True).get("Item"))
        self._realm.saw(state)
        return state

    def _write(
        self, plan: Take, state: BudgetState, lease: str, now_us: int, lease_until_us: int
    ) -> tuple[bool, BudgetState]:
        """The acquire's one conditional UpdateItem; returns (won, the item as it is now)."""
        try:
            reply = self._table.update_item(**self._take_request(plan, state, lease, now_us, lease_until_us))
        except ClientError as error:
            if not condition_failed(error):
                raise
            old: Mapping[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            now = BudgetState.of_item(_deserializer.deserialize({"M": old}) if old else None)  # wire format
            self._realm.saw(now)
            return False, now
        now = BudgetState.of_item(reply["Attributes"])
        self._realm.saw(now)
        return True, now

    def _take_request(
        self, plan: Take, state: BudgetState, lease: str, now_us: int, lease_until_us: int
    ) -> UpdateItemInputTableUpdateItemTypeDef:
        request: UpdateItemInputTableUpdateItemTypeDef = {
            "Key": self._key,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if not state.stored:
            request["UpdateExpression"] = "SET tat_us = :tat, leases = :leases ADD version :one"
            request["ConditionExpression"] = "attribute_not_exists(leases)"
            request["ExpressionAttributeValues"] = {
                ":tat": self._shape.taken(state.tat_us, now_us),
                ":leases": {lease: lease_until_us},
                ":one": 1,
            }
            return request
        names = {"#lease": lease}
        values: dict[str, Any] = {":until": lease_until_us, ":now": now_us, ":one": 1}
        values[":room"] = self._max_in_flight + len(plan.expired)
        sets = ["leases.#lease = :until"]
        conditions = ["size(leases) < :room"]
        if plan.restart_tat_us is not None:
            sets.append("tat_us = :tat")
            conditions.append("tat_us < :now")
            values[":tat"] = plan.restart_tat_us
        else:
            sets.append("tat_us = tat_us + :step")
            conditions.append("tat_us BETWEEN :now AND :latest")
            values |= {":step": self._shape.interval_us, ":latest": plan.latest_tat_us}
        removes = []
        for number, expired in enumerate(plan.expired):  # they count in size(leases) until gone
            names[f"#x{number}"] = expired
            removes.append(f"leases.#x{number}")
            conditions.append(f"attribute_exists(leases.#x{number})")
        update = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        request["UpdateExpression"] = f"{update} ADD version :one"
        request["ConditionExpression"] = " AND ".join(conditions)
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        return request

    def _release(self, lease: str) -> None:
        """Remove our lease: unconditional, as the id is ours alone (already gone if it expired)."""
        try:
            reply = self._table.update_item(
                Key=self._key,
                UpdateExpression="REMOVE leases.#lease ADD version :one",
                ExpressionAttributeNames={"#lease": lease},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )
        except (BotoCoreError, ClientError) as error:
            # The request is done; failing it now would only redo it. The lease expires on its own.
            logger.warning("QBO budget lease not released", extra={"error": type(error).__name__})
            return
        self._realm.saw(BudgetState.of_item(reply["Attributes"]))
