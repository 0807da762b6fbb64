"""The one classification of a failed record, and when each kind comes back."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from local.cfn import load_template
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskError, OneDeskNotFound, OneDeskUnavailable
from qbo_sync.ports.qbo import (
    QboAuthError,
    QboDuplicateName,
    QboNotFound,
    QboStaleObject,
    QboThrottled,
    QboTransient,
    QboValidationError,
)
from qbo_sync.ports.tokens import InvalidGrant, NeedsReconnect, OAuthUnavailable
from qbo_sync.retries import Failure, budget_back_in, classify, retry_delay
from qbo_sync.usecases.invoice_commands import UnknownTenant

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _qbo(error: type[Exception], status: int | None = None, code: str | None = None) -> Exception:
    return error(status=status, code=code, message="from QBO")  # type: ignore[call-arg]


def _aws(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_qbo(QboThrottled, 429, "3001"), Failure.THROTTLED),
        (_qbo(QboTransient, 503), Failure.TRANSIENT),
        (_qbo(QboStaleObject, 400, "5010"), Failure.TRANSIENT),
        (_qbo(QboAuthError, 401), Failure.WAITING_FOR_ADMIN),
        (_qbo(QboValidationError, 400, "6000"), Failure.PERMANENT),
        (_qbo(QboNotFound, 400, "610"), Failure.PERMANENT),
        (_qbo(QboDuplicateName, 400, "6240"), Failure.PERMANENT),
        (OneDeskUnavailable("OneDesk GET invoices/1: HTTP 503"), Failure.TRANSIENT),
        (OneDeskAuthError("OneDesk GET invoices/1: HTTP 401"), Failure.WAITING_FOR_ADMIN),
        (OneDeskNotFound("OneDesk GET invoices/1: HTTP 404"), Failure.PERMANENT),
        (OneDeskError("OneDesk returned an invoice this client cannot read"), Failure.PERMANENT),
        (UnknownTenant("no tenant 't-9'"), Failure.PERMANENT),
        (NeedsReconnect("t-1", "9130", "invalid_grant"), Failure.WAITING_FOR_ADMIN),
        (InvalidGrant("invalid_grant"), Failure.WAITING_FOR_ADMIN),
        (OAuthUnavailable("token endpoint answered 503"), Failure.TRANSIENT),
        (_aws("ProvisionedThroughputExceededException", 400), Failure.THROTTLED),
        (_aws("ThrottlingException", 400), Failure.THROTTLED),
        (_aws("InternalServerError", 500), Failure.TRANSIENT),
        (_aws("ConditionalCheckFailedException", 400), Failure.UNEXPECTED),
        (EndpointConnectionError(endpoint_url="https://sqs.test"), Failure.TRANSIENT),
        (ReadTimeoutError(endpoint_url="https://dynamodb.test"), Failure.TRANSIENT),
        (IdempotencyAlreadyInProgressError("send in progress"), Failure.TRANSIENT),
        (KeyError("Invoice"), Failure.UNEXPECTED),
    ],
)
def test_each_failure_has_one_kind(error: Exception, kind: Failure) -> None:
    assert classify(error) is kind


def test_a_wrapper_is_judged_by_the_error_it_was_raised_from() -> None:
    throttled = _aws("ProvisionedThroughputExceededException", 400)
    try:
        try:
            raise throttled
        except ClientError as cause:
            raise IdempotencyPersistenceLayerError("Failed to save in progress record", cause) from cause
    except IdempotencyPersistenceLayerError as wrapper:
        assert classify(wrapper) is Failure.THROTTLED


def test_an_error_raised_while_handling_another_is_judged_by_itself() -> None:
    try:
        try:
            raise _qbo(QboThrottled, 429)
        except QboThrottled:
            raise ValueError("a bug in the except block") from None
    except ValueError as bug:
        assert classify(bug) is Failure.UNEXPECTED


def lowest(low: float, high: float) -> float:
    return low


def highest(low: float, high: float) -> float:
    return high


@pytest.mark.parametrize("kind", [Failure.THROTTLED, Failure.TRANSIENT])
def test_throttled_and_transient_come_back_within_a_minute(kind: Failure) -> None:
    lows = [retry_delay(kind, n, lowest) for n in range(1, 9)]
    highs = [retry_delay(kind, n, highest) for n in range(1, 9)]
    assert lows == [1, 2, 4, 8, 16, 30, 30, 30]
    assert highs == [2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(kind, 499, highest) == 60


def test_unexpected_failures_retry_at_most_every_sixteen_seconds() -> None:
    assert [retry_delay(Failure.UNEXPECTED, n, highest) for n in range(1, 7)] == [2, 4, 8, 16, 16, 16]
    assert retry_delay(Failure.UNEXPECTED, 300, lowest) == 8


def test_a_refused_credential_is_retried_slowly() -> None:
    assert [retry_delay(Failure.WAITING_FOR_ADMIN, n, highest) for n in range(1, 7)] == [
        60,
        120,
        240,
        480,
        900,
        900,
    ]
    assert retry_delay(Failure.WAITING_FOR_ADMIN, 1, lowest) == 30
    assert retry_delay(Failure.WAITING_FOR_ADMIN, 50, lowest) == 450


@pytest.mark.parametrize("kind", [Failure.DEFERRED, Failure.PERMANENT])
def test_deferred_records_come_back_at_once(kind: Failure) -> None:
    assert retry_delay(kind, 7, highest) == 0


def test_the_jitter_spreads_records_that_failed_together() -> None:
    delays = {retry_delay(Failure.THROTTLED, 6) for _ in range(200)}
    assert min(delays) >= 30 and max(delays) <= 60
    assert len(delays) > 10


@pytest.mark.parametrize("queue", ["InvoiceCommandsQueue", "InvoiceDeliveriesQueue", "QboChangesQueue"])
def test_max_receive_count_tolerates_hours_of_outage_before_the_dlq(queue: str) -> None:
    """What template.yaml and README state: each failure waits at least half its step, so the queue's
    receives last at least four hours of continuous throttling or 5xx, and a bug (retried faster)
    reaches the dead-letter queue within about two and a half hours."""
    receives = load_template(TEMPLATE)["Resources"][queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    shortest = sum(retry_delay(Failure.TRANSIENT, n, lowest) for n in range(1, receives + 1))
    assert shortest >= 4 * 3600
    shortest_bug = sum(retry_delay(Failure.UNEXPECTED, n, lowest) for n in range(1, receives + 1))
    longest_bug = sum(retry_delay(Failure.UNEXPECTED, n, highest) for n in range(1, receives + 1))
    assert shortest_bug >= 3600 and longest_bug <= 2.5 * 3600
    shortest_admin = sum(retry_delay(Failure.WAITING_FOR_ADMIN, n, lowest) for n in range(1, receives + 1))
    assert shortest_admin >= 2.5 * 24 * 3600


def test_a_throttled_record_comes_back_when_the_budget_has_room_never_later_than_the_cap() -> None:
    def low(a: float, _b: float) -> float:
        return a

    assert retry_delay(Failure.THROTTLED, 1, low, budget_back_in=7.2) == 8  # not before the budget
    assert retry_delay(Failure.THROTTLED, 1, low, budget_back_in=0.1) == 1  # its own schedule otherwise
    assert retry_delay(Failure.THROTTLED, 1, low, budget_back_in=600) == 60  # the cap still holds
    assert retry_delay(Failure.TRANSIENT, 1, low, budget_back_in=7.2) == 1  # only throttling waits for it


def test_the_budget_hint_is_found_behind_wrappers() -> None:
    throttled = QboThrottled(status=None, code=None, message="no budget", retry_after_seconds=3.5)
    try:
        try:
            raise throttled
        except QboThrottled as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as wrapped:
        assert budget_back_in(wrapped) == 3.5
    assert budget_back_in(QboThrottled(status=429, code="3001", message="throttled")) is None
