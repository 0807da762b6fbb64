"""The shared SQS FIFO batch processing: which records fail, and when each failed record comes back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from qbo_sync import consumer, deadline
from qbo_sync.consumer import RetryingFifoProcessor, settling_permanent
from qbo_sync.ports.onedesk import OneDeskNotFound
from qbo_sync.ports.qbo import QboThrottled


@dataclass
class FakeVisibility:
    """Records every visibility change, by receipt handle."""

    changes: dict[str, int] = field(default_factory=dict)
    refuse: bool = False

    def return_after(self, delays: Sequence[tuple[str, int]]) -> list[str]:
        if self.refuse:
            raise ConnectionError("SQS unreachable")
        self.changes.update(delays)
        return []


@dataclass
class _Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _event(*records: tuple[str, str, int]) -> dict[str, Any]:
    """(group, body, receive count) per record."""
    return {
        "Records": [
            {
                "messageId": f"m-{body}",
                "receiptHandle": f"rh-{body}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receives),
                    "MessageGroupId": group,
                    "MessageDeduplicationId": uuid.uuid4().hex,
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work.fifo",
            }
            for group, body, receives in records
        ]
    }


def _handler(failures: dict[str, Exception]) -> tuple[Callable[[SQSRecord], None], list[str]]:
    handled: list[str] = []

    def handle(record: SQSRecord) -> None:
        handled.append(record.body)
        if record.body in failures:
            raise failures[record.body]

    return handle, handled


def _run(
    event: dict[str, Any],
    failures: dict[str, Exception],
    visibility: FakeVisibility,
    min_start_seconds: float = 30,
) -> tuple[Any, list[str]]:
    handle, handled = _handler(failures)
    processor = RetryingFifoProcessor(lambda: visibility, min_start_seconds=min_start_seconds)
    response = process_partial_response(
        event=event, record_handler=settling_permanent(handle), processor=processor
    )
    return response, handled


def _throttled() -> QboThrottled:
    return QboThrottled(status=429, code="3001", message="ThrottleExceeded")


def test_a_failed_record_and_the_rest_of_its_group_come_back_together_soon() -> None:
    visibility = FakeVisibility()
    event = _event(("A", "a1", 1), ("A", "a2", 1), ("B", "b1", 1), ("A", "a3", 1), ("B", "b2", 1))

    response, handled = _run(event, {"a2": _throttled()}, visibility)

    assert handled == ["a1", "a2", "b1", "b2"]  # a3 skipped: FIFO order within group A
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-a2"}, {"itemIdentifier": "m-a3"}]}
    assert set(visibility.changes) == {"rh-a2", "rh-a3"}
    assert visibility.changes["rh-a2"] == visibility.changes["rh-a3"]
    assert 1 <= visibility.changes["rh-a2"] <= 2  # first receive of a throttled record


def test_the_delay_grows_with_the_receive_count() -> None:
    visibility = FakeVisibility()

    event = _event(("A", "a1", 9), ("B", "b1", 1), ("C", "c1", 1))
    _run(event, {"a1": _throttled(), "b1": _throttled()}, visibility)

    assert 30 <= visibility.changes["rh-a1"] <= 60
    assert 1 <= visibility.changes["rh-b1"] <= 2


def test_a_permanent_failure_is_dead_lettered_and_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    rejected: list[tuple[str, str]] = []
    monkeypatch.setattr(consumer, "reject", lambda record, reason: rejected.append((record.body, reason)))
    visibility = FakeVisibility()
    gone = OneDeskNotFound("OneDesk GET invoices/7 answered HTTP 404")

    response, handled = _run(_event(("A", "a1", 1), ("A", "a2", 1)), {"a1": gone}, visibility)

    assert handled == ["a1", "a2"]  # the group goes on
    assert response == {"batchItemFailures": []}
    assert rejected == [("a1", "OneDeskNotFound: OneDesk GET invoices/7 answered HTTP 404")]
    assert visibility.changes == {}


def test_records_the_invocation_could_not_finish_are_not_started_and_return_at_once() -> None:
    visibility = FakeVisibility()
    event = _event(("A", "a1", 1), ("A", "a2", 1), ("B", "b1", 2))

    with deadline.invocation(_Context(remaining_ms=20_000)):
        response, handled = _run(event, {}, visibility, min_start_seconds=30)  # 15 s left: nothing starts

    assert handled == []
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m-{m}"} for m in ("a1", "a2", "b1")]}
    assert visibility.changes == {"rh-a1": 0, "rh-a2": 0, "rh-b1": 0}


def test_with_time_left_every_record_runs() -> None:
    visibility = FakeVisibility()

    with deadline.invocation(_Context(remaining_ms=120_000)):
        response, handled = _run(_event(("A", "a1", 1), ("B", "b1", 1)), {}, visibility)

    assert handled == ["a1", "b1"]
    assert response == {"batchItemFailures": []}
    assert visibility.changes == {}


def test_when_the_visibility_cannot_be_changed_the_batch_response_still_stands() -> None:
    visibility = FakeVisibility(refuse=True)

    response, _ = _run(_event(("A", "a1", 1), ("B", "b1", 1)), {"a1": _throttled()}, visibility)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-a1"}]}


def test_when_every_record_fails_the_batch_answers_them_all_and_they_come_back_soon() -> None:
    visibility = FakeVisibility()

    response, _ = _run(_event(("A", "a1", 1), ("A", "a2", 1)), {"a1": _throttled()}, visibility)

    # An answer, not a function error: Lambda would count it and retry the whole batch after its timeout.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-a1"}, {"itemIdentifier": "m-a2"}]}
    assert set(visibility.changes) == {"rh-a1", "rh-a2"}
