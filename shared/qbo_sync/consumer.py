"""What every SQS FIFO consumer does the same way: process a batch in order within the invocation's
time, settle permanent failures at once, and bring retryable ones back after their own delay.

Lambda's event source mapping leaves a failed record (and the records of its group that Powertools
skipped after it, to keep FIFO order) in flight until the queue's visibility timeout runs out, and a
FIFO group is locked while any of its messages is in flight. So every failed record of the batch gets
a new visibility timeout from ``qbo_sync.retries``: a QBO 429 storm's end is followed within about a
minute by progress, instead of by the queue's full visibility timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    ExceptionInfo,
    FailureResponse,
    SqsFifoPartialProcessor,
    SuccessResponse,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from qbo_sync import deadline, wiring
from qbo_sync.entrypoints import reject
from qbo_sync.observability import logger, metrics
from qbo_sync.ports.queues import MessageVisibility
from qbo_sync.retries import Failure, budget_back_in, classify, retry_delay

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


class RecordDeferred(Exception):
    """The record was not started: the invocation had too little time left to finish it."""


class RetryingFifoProcessor(SqsFifoPartialProcessor):
    """Powertools' FIFO processor (a failed record fails the rest of its group in the batch, other
    groups go on) that also sets when each failed record comes back, and starts no record the
    invocation could not finish (Lambda would kill the whole batch, successes included)."""

    def __init__(self, visibility: Callable[[], MessageVisibility], min_start_seconds: float) -> None:
        super().__init__(skip_group_on_error=True)
        # Every failed record is reported and already has its return time: a batch whose records all
        # failed (a QBO storm) is an answer, not a function error for Lambda to count and retry whole.
        self.raise_on_entire_batch_failure = False
        self._visibility = visibility
        self._min_start_seconds = min_start_seconds
        self._returns: list[tuple[str, int]] = []
        self._group_delays: dict[str | None, int] = {}

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools' internals are untyped
        self._returns.clear()
        self._group_delays.clear()

    def _process_record(self, record: dict[str, Any]) -> SuccessResponse | FailureResponse:
        group = record.get("attributes", {}).get("MessageGroupId")
        left = deadline.seconds_left()
        if left is not None and left < self._min_start_seconds and group not in self._failed_group_ids:
            self._current_group_id = group
            deferred = RecordDeferred(f"only {left:.0f} s left in this invocation")
            return self.failure_handler(SQSRecord(record), (RecordDeferred, deferred, None))
        return super()._process_record(record)  # type: ignore[no-untyped-call,no-any-return]

    def failure_handler(self, record: SQSRecord, exception: ExceptionInfo) -> FailureResponse:
        group = record.attributes.message_group_id
        error = exception[1]
        if isinstance(error, SQSFifoMessageGroupCircuitBreakerError) and group in self._group_delays:
            delay = self._group_delays[group]  # comes back with the record that failed its group
        else:
            failure = _failure_of(error)
            receive_count = int(record.attributes.approximate_receive_count)
            delay = self._group_delays[group] = retry_delay(
                failure, receive_count, budget_back_in=budget_back_in(error) if error else None
            )
            logger.warning(
                "record failed; it comes back after its retry delay",
                extra={
                    "message_id": record.message_id,
                    "failure": failure.value,
                    "receive_count": receive_count,
                    "retry_in_seconds": delay,
                    "error": f"{type(error).__name__}: {error}",
                },
                exc_info=error if failure is Failure.UNEXPECTED else None,
            )
            metrics.add_metric(name="RecordsRetried", unit="Count", value=1)
        self._returns.append((record.receipt_handle, delay))
        return super().failure_handler(record, exception)

    def _clean(self) -> None:
        try:
            self._return_failed_records()
        finally:
            super()._clean()  # type: ignore[no-untyped-call]  # Powertools' internals are untyped

    def _return_failed_records(self) -> None:
        if not self._returns:
            return
        try:
            refused = self._visibility().return_after(self._returns)
        except Exception:
            # The batch response must still reach Lambda, or the successes would run again.
            logger.exception("visibility not changed: the failed records return after the queue's timeout")
            return
        for reason in refused:
            logger.warning("visibility not changed for a record", extra={"reason": reason})


def _failure_of(error: BaseException | None) -> Failure:
    if isinstance(error, RecordDeferred):
        return Failure.DEFERRED
    return Failure.UNEXPECTED if error is None else classify(error)


def settling_permanent(record_handler: Callable[[SQSRecord], None]) -> Callable[[SQSRecord], None]:
    """A permanent failure is final at once: dead-lettered with its reason, never retried, never
    holding its group. Every other failure propagates to the processor, which schedules the retry."""

    def handle(record: SQSRecord) -> None:
        try:
            record_handler(record)
        except Exception as error:
            if classify(error) is not Failure.PERMANENT:
                raise
            reject(record, f"{type(error).__name__}: {error}")

    return handle


def consume_fifo(
    event: dict[str, Any], context: LambdaContext, record_handler: Callable[[SQSRecord], None]
) -> PartialItemFailureResponse:
    """One invocation of an SQS FIFO consumer, bounded by the Lambda's remaining time."""
    settings = wiring.settings()
    processor = RetryingFifoProcessor(
        wiring.source_queue_visibility,
        # A record is started only if one QBO request can still finish after it begins.
        min_start_seconds=settings.qbo_request_timeout_seconds,
    )
    with deadline.invocation(context):
        return process_partial_response(
            event=event,
            record_handler=settling_permanent(record_handler),
            processor=processor,
            context=context,
        )
