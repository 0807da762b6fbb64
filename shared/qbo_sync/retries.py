"""What a failed SQS record is, and when it comes back: the one classification every consumer uses.

A use case settles the permanent outcomes it understands itself (a refused copy, an invoice deleted in
OneDesk) and records them. Whatever still escapes a record handler is classified here:

* ``PERMANENT``: retrying cannot help (QBO refused the content, OneDesk answered something we cannot
  read, the tenant does not exist). The record goes to the dead-letter queue at once with the reason,
  so it never holds its FIFO group and can be replayed after a fix.
* ``THROTTLED`` and ``TRANSIENT``: QBO 429/5xx after the client's quick retries, no QBO request
  budget, OneDesk unavailable, AWS throttling or a network failure. Back within a minute at most, so
  copying resumes soon after a storm ends.
* ``WAITING_FOR_ADMIN``: a QBO or OneDesk credential was refused; only a person can fix that, so the
  record is retried slowly (backing off from one minute to every 7.5 to 15 minutes) instead of
  hammering a refusing service.
* ``UNEXPECTED``: anything else, most likely a bug. Retried quickly (at most every 16 s) so that it
  spends the queue's receive count and reaches the dead-letter queue (and its alarm) in one to two
  hours instead of holding its group as long as a real outage is tolerated.
* ``DEFERRED``: not tried at all, because the invocation was about to run out of time; back at once.

The delay is the record's new visibility timeout, from its ``ApproximateReceiveCount``. The skipped
records of its group come back with it (a FIFO group is locked while any of its messages is in flight).
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from qbo_sync.domain.backoff import backoff_delay
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskError, OneDeskUnavailable
from qbo_sync.ports.qbo import QboAuthError, QboError, QboStaleObject, QboThrottled, QboTransient
from qbo_sync.ports.tokens import NeedsReconnect, OAuthError, OAuthUnavailable
from qbo_sync.usecases.invoice_commands import UnknownTenant


class Failure(StrEnum):
    PERMANENT = "permanent"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    WAITING_FOR_ADMIN = "waiting-for-admin"
    UNEXPECTED = "unexpected"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class _Schedule:
    base_seconds: float
    cap_seconds: float


_SCHEDULES = {
    Failure.THROTTLED: _Schedule(2, 60),
    Failure.TRANSIENT: _Schedule(2, 60),
    Failure.WAITING_FOR_ADMIN: _Schedule(60, 900),
    Failure.UNEXPECTED: _Schedule(2, 16),
}

# The codes botocore's "standard" retry mode treats as throttling (our clients have already retried them).
_AWS_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_IDEMPOTENCY_ERRORS = "aws_lambda_powertools.utilities.idempotency.exceptions"
_jitter = random.Random()  # noqa: S311 - spreads retries; not a security use


def classify(error: BaseException) -> Failure:
    """The kind of ``error``; a wrapper (Powertools wraps DynamoDB errors, for instance) is judged by
    the first error of its ``raise ... from`` chain that has a known kind."""
    for cause in _causes(error):
        if (kind := _kind_of(cause)) is not None:
            return kind
    return Failure.UNEXPECTED


def _kind_of(error: BaseException) -> Failure | None:
    if isinstance(error, QboThrottled):
        return Failure.THROTTLED
    if isinstance(error, QboTransient | QboStaleObject | OneDeskUnavailable | OAuthUnavailable):
        return Failure.TRANSIENT  # a stale SyncToken that survived the use case's re-read is a race
    if isinstance(error, QboAuthError | OneDeskAuthError | NeedsReconnect | OAuthError):
        return Failure.WAITING_FOR_ADMIN  # a refused key, grant or app secret
    if isinstance(error, QboError | OneDeskError | UnknownTenant):
        return Failure.PERMANENT  # QBO refused the content, OneDesk's answer cannot be read, no tenant
    if _is_instance(error, _IDEMPOTENCY_ERRORS, "IdempotencyAlreadyInProgressError"):
        return Failure.TRANSIENT  # another invocation holds the same send; it will finish or expire
    if isinstance(error, ClientError):
        if error.response.get("Error", {}).get("Code") in _AWS_THROTTLING_CODES:
            return Failure.THROTTLED
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return Failure.TRANSIENT if status >= 500 else None
    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        return Failure.TRANSIENT
    return None


def _is_instance(error: BaseException, module: str, name: str) -> bool:
    """``isinstance`` against a class of a module only if this function has loaded that module: it cannot
    have raised the module's errors otherwise, and importing it just to check would cost every cold
    start (Powertools' idempotency package loads boto3, about 100 ms)."""
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(error, cls)


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def retry_delay(
    failure: Failure,
    receive_count: int,
    uniform: Callable[[float, float], float] = _jitter.uniform,
    *,
    budget_back_in: float | None = None,
) -> int:
    """Whole seconds until a record that failed on its ``receive_count``-th receive is visible again.
    ``budget_back_in``: when the realm's request budget said it has room again; a throttled record
    never comes back before that (it would only be throttled again), nor later than its schedule's cap."""
    schedule = _SCHEDULES.get(failure)
    if schedule is None:  # DEFERRED (never tried) or PERMANENT (never retried)
        return 0
    seconds = backoff_delay(max(1, receive_count), schedule.base_seconds, schedule.cap_seconds, uniform)
    if failure is Failure.THROTTLED and budget_back_in is not None:
        return math.ceil(min(max(seconds, budget_back_in), schedule.cap_seconds))
    return round(seconds)


def budget_back_in(error: BaseException) -> float | None:
    """The request budget's own estimate of when it has room, if a throttling in ``error``'s chain has one."""
    for cause in _causes(error):
        if isinstance(cause, QboThrottled) and cause.retry_after_seconds is not None:
            return cause.retry_after_seconds
    return None
