"""Per-realm QBO request budget shared by every concurrent Lambda (implements ``RequestBudget``).

Two kinds of item under ``pk=RATE#<realm>`` (design: docs/qbo-rate-limits.md):

* ``sk=SLOT#0 .. SLOT#<max_in_flight-1>``: in-flight slots. A request holds one for its duration,
  taken by a conditional put that succeeds only if the slot is free or its lease has run out, so a
  Lambda that dies mid-request blocks a slot for at most ``lease_seconds``.
* ``sk=BUCKET``: a token bucket (``tokens`` in micro-tokens, ``updated_us``, ``version``) updated by
  compare-and-swap on ``version``. A slot holder takes a token even when the bucket is empty: the
  balance goes negative and the holder sleeps until its token has been refilled, so holders never
  poll or race each other for the same token. ``BucketShape`` keeps every window of QBO's length
  under the per-window budget while allowing 90 % of it as sustained throughput.

Slot first, token second: the token's time is then (almost) the time QBO sees the request. Within one
process a semaphore admits at most ``max_in_flight`` threads to the table, so a process's surplus
threads wait in memory instead of polling DynamoDB. A caller gives up with ``QboThrottled`` when it
cannot get both within ``max_wait_seconds``.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from qbo_sync.adapters.store.dynamo import as_int, condition_failed
from qbo_sync.adapters.store.keys import rate_limit_pk
from qbo_sync.ports.qbo import QboThrottled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

MICRO = 1_000_000  # bucket arithmetic is in integer micro-tokens and microseconds: exact in DynamoDB
BUCKET_SK = "BUCKET"
SLOT_PREFIX = "SLOT#"
_SLOT_TTL_SECONDS = 3600  # the TTL sweeps abandoned slot items; their lease already freed them
_POLL_FIRST_SECONDS = 0.02
_POLL_MAX_SECONDS = 0.5
_jitter = random.Random()  # noqa: S311 - spreads polling; not a security use

_process_gates: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_process_gates_lock = threading.Lock()


def _process_gate(table_name: str, pk: str, size: int) -> threading.BoundedSemaphore:
    with _process_gates_lock:
        return _process_gates.setdefault((table_name, pk), threading.BoundedSemaphore(size))


@dataclass(frozen=True)
class BucketShape:
    """Capacity and refill rate of a token bucket that honours ``per_window`` requests per window.

    At most ``capacity + rate * L`` tokens can be spent in any interval of length ``L``. A token is
    spent up to ``slack_seconds`` before QBO timestamps the request, so QBO's window of length ``W``
    sees tokens from an interval of ``W + slack``; hence ``capacity + rate * (W + slack) <= budget``.
    The rate is set to ``throughput`` of the budget and the capacity takes what is left.
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

    def refilled(self, micro_tokens: int, elapsed_us: int) -> int:
        """Balance after ``elapsed_us`` microseconds of refill, never above capacity."""
        return min(
            self.capacity * MICRO, micro_tokens + math.floor(max(0, elapsed_us) * self.refill_per_second)
        )

    def wait_seconds(self, micro_tokens: int) -> float:
        """Time until a negative balance (tokens already promised) is paid back to zero."""
        return max(0, -micro_tokens) / MICRO / self.refill_per_second


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
        slow request's slot could be handed to another caller while it is still running.
        """
        self._table = table
        self._pk = rate_limit_pk(realm_id)
        self._max_in_flight = max_in_flight
        self._shape = BucketShape.for_budget(per_minute, window_seconds)
        self._lease_us = int(lease_seconds * MICRO)
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep

    @contextmanager
    def acquire(self) -> Iterator[None]:
        deadline = time.monotonic() + self._max_wait
        gate = _process_gate(self._table.name, self._pk, self._max_in_flight)
        if not gate.acquire(timeout=self._max_wait):
            raise self._throttled("request slot")
        try:
            slot, owner = self._take_slot(deadline)
            try:
                self._take_token(deadline)
                yield
            finally:
                self._release(slot, owner)
        finally:
            gate.release()

    def _now_us(self) -> int:
        return int(self._clock() * MICRO)

    def _throttled(self, what: str) -> QboThrottled:
        return QboThrottled(
            status=None, code=None, message=f"no QBO {what} free for this realm within {self._max_wait:g} s"
        )

    def _wait(self, seconds: float, deadline: float, what: str) -> None:
        if time.monotonic() + seconds > deadline:
            raise self._throttled(what)
        self._sleep(seconds)

    # ------------------------------------------------------------------ slots

    def _take_slot(self, deadline: float) -> tuple[str, str]:
        owner = uuid.uuid4().hex
        poll = _POLL_FIRST_SECONDS
        while True:
            for slot in self._free_slots():
                if self._put_slot(slot, owner):
                    return slot, owner
            self._wait(_jitter.uniform(poll / 2, poll), deadline, "request slot")
            poll = min(_POLL_MAX_SECONDS, poll * 2)

    def _free_slots(self) -> list[str]:
        now_us = self._now_us()
        held = self._table.query(
            KeyConditionExpression=Key("pk").eq(self._pk) & Key("sk").begins_with(SLOT_PREFIX),
            ConsistentRead=True,
        ).get("Items", [])
        busy = {item["sk"] for item in held if as_int(item["lease_until_us"]) > now_us}
        free = [f"{SLOT_PREFIX}{n}" for n in range(self._max_in_flight)]
        free = [slot for slot in free if slot not in busy]
        _jitter.shuffle(free)  # callers that read the same free list spread over it
        return free

    def _put_slot(self, slot: str, owner: str) -> bool:
        now_us = self._now_us()
        lease_until_us = now_us + self._lease_us
        try:
            self._table.put_item(
                Item={
                    "pk": self._pk,
                    "sk": slot,
                    "owner": owner,
                    "lease_until_us": lease_until_us,
                    "expires_at": lease_until_us // MICRO + _SLOT_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until_us <= :now",
                ExpressionAttributeValues={":now": now_us},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def _release(self, slot: str, owner: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": self._pk, "sk": slot},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if not condition_failed(error):  # our lease ran out and the slot is someone else's now
                raise

    # ------------------------------------------------------------------ bucket

    def _take_token(self, deadline: float) -> None:
        """Take one token (possibly on credit) and sleep until it has been refilled."""
        while True:
            now_us = self._now_us()
            item = self._table.get_item(Key={"pk": self._pk, "sk": BUCKET_SK}, ConsistentRead=True)
            stored = item.get("Item")
            if stored is None:
                balance, version = self._shape.capacity * MICRO, None
            else:
                updated_us = as_int(stored["updated_us"])
                balance = self._shape.refilled(as_int(stored["tokens"]), now_us - updated_us)
                version = as_int(stored["version"])
                now_us = max(now_us, updated_us)  # a peer whose clock runs ahead must not refill us twice
            balance -= MICRO
            wait = self._shape.wait_seconds(balance)
            if time.monotonic() + wait > deadline:
                raise self._throttled("request budget")  # before promising a token we would not use
            if self._put_bucket(balance, now_us, version):
                if wait:
                    self._sleep(wait)
                return

    def _put_bucket(self, balance: int, now_us: int, version: int | None) -> bool:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if version is None
            else {
                "ConditionExpression": "version = :version",
                "ExpressionAttributeValues": {":version": version},
            }
        )
        try:
            self._table.put_item(
                Item={
                    "pk": self._pk,
                    "sk": BUCKET_SK,
                    "tokens": balance,
                    "updated_us": now_us,
                    "version": (version or 0) + 1,
                },
                **condition,
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
