"""SQS event sources: partial batch responses, redrive, FIFO order, handler errors, the event shape.

WorkQueue is FIFO with VisibilityTimeout 2 s and maxReceiveCount 2; CrashQueue is standard with
VisibilityTimeout 1 s and maxReceiveCount 2. Messages are sent before the runner starts, so the
first batch is known.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from local.aws import Provisioned
from local.runner import InvocationResult
from local.runner.pool import Status
from local.runner.sqs import POLL_WAIT_SECONDS, records_to_delete
from tests.runner.conftest import RunnerFactory, drain, lines_starting, queue_depth, wait_for


def _send_fifo(sqs: Any, queue_url: str, messages: list[tuple[str, str]]) -> None:
    for start in range(0, len(messages), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "MessageBody": body, "MessageGroupId": group}
                for index, (group, body) in enumerate(messages[start : start + 10])
            ],
        )


def _dead_letters(sqs: Any, dlq_url: str, count: int) -> list[dict[str, Any]]:
    wait_for(lambda: queue_depth(sqs, dlq_url) >= count, message=f"{count} message(s) in the DLQ")
    return drain(sqs, dlq_url)


def test_partial_batch_failure_deletes_only_the_successes(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    _send_fifo(sqs, provisioned.ref("WorkQueue"), [("g1", "ok-1"), ("g2", "fail-1"), ("g3", "ok-2")])
    runner = make_runner()

    dead = _dead_letters(sqs, provisioned.ref("WorkDlq"), 1)

    assert [message["Body"] for message in dead] == ["fail-1"]
    batches = [
        json.loads(line.removeprefix("BATCH ")) for line in lines_starting(runner, "BatchFunction", "BATCH ")
    ]
    assert batches[0] == ["ok-1", "fail-1", "ok-2"]  # one batch, partly failed
    assert batches[1:] == [["fail-1"]]  # only the failed record came back
    processed = lines_starting(runner, "BatchFunction", "PROCESSED")
    assert processed == ["PROCESSED g1 ok-1 receive=1", "PROCESSED g3 ok-2 receive=1"]
    assert queue_depth(sqs, provisioned.ref("WorkQueue")) == 0


def test_redrive_after_max_receive_count(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    sqs.send_message(
        QueueUrl=provisioned.ref("WorkQueue"),
        MessageBody="fail-always",
        MessageGroupId="tenant-1",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "copy"}},
    )
    runner = make_runner()

    dead = _dead_letters(sqs, provisioned.ref("WorkDlq"), 1)

    assert [message["Body"] for message in dead] == ["fail-always"]
    assert dead[0]["Attributes"]["MessageGroupId"] == "tenant-1"
    # Exactly maxReceiveCount deliveries, then the queue's redrive policy moved it: not the runner.
    assert lines_starting(runner, "BatchFunction", "FAILED") == [
        "FAILED tenant-1 fail-always receive=1",
        "FAILED tenant-1 fail-always receive=2",
    ]


def test_fifo_order_within_a_group_across_batches(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    # 15 per group, interleaved; A4 fails on its first delivery, so A4..A10 come back after the
    # visibility timeout and must still be processed before A11.
    messages = []
    for number in range(1, 16):
        messages.append(("A", f"flaky-A{number}" if number == 4 else f"A{number}"))
        messages.append(("B", f"B{number}"))
    _send_fifo(sqs, provisioned.ref("WorkQueue"), messages)
    runner = make_runner()

    wait_for(
        lambda: len(lines_starting(runner, "BatchFunction", "PROCESSED")) == 30,
        message="30 processed messages",
    )

    batches = [
        json.loads(line.removeprefix("BATCH ")) for line in lines_starting(runner, "BatchFunction", "BATCH ")
    ]
    assert max(len(batch) for batch in batches) <= 10  # BatchSize
    processed = [line.split()[1:3] for line in lines_starting(runner, "BatchFunction", "PROCESSED")]
    for group in ("A", "B"):
        numbers = [int(re.sub(r"\D", "", body)) for line_group, body in processed if line_group == group]
        assert numbers == list(range(1, 16)), group
    assert "PROCESSED A flaky-A4 receive=2" in runner.logs("BatchFunction")
    # The last batch is logged before the runner deletes it.
    wait_for(lambda: queue_depth(sqs, provisioned.ref("WorkQueue")) == 0, message="an empty queue")
    assert queue_depth(sqs, provisioned.ref("WorkDlq")) == 0


def test_a_shortened_visibility_brings_the_failed_group_back_in_order(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    # RetryQueue's visibility timeout is 300 s; its consumer gives failed records 1 s instead.
    _send_fifo(sqs, provisioned.ref("RetryQueue"), [("A", "flaky-A1"), ("A", "A2"), ("B", "B1")])
    runner = make_runner()

    wait_for(
        lambda: "PROCESSED A A2 receive=2" in runner.logs("RetryFunction"),
        timeout=30,
        message="group A processed again, long before the queue's 300 s",
    )

    processed = lines_starting(runner, "RetryFunction", "PROCESSED")
    assert processed == [
        "PROCESSED B B1 receive=1",
        "PROCESSED A flaky-A1 receive=2",  # the failed record first, then the rest of its group
        "PROCESSED A A2 receive=2",
    ]
    assert lines_starting(runner, "RetryFunction", "FAILED") == [
        "FAILED A flaky-A1 receive=1",
        "FAILED A A2 receive=1",
    ]
    wait_for(lambda: queue_depth(sqs, provisioned.ref("RetryQueue")) == 0, message="an empty queue")


def test_a_disabled_event_source_leaves_the_queue_alone_until_enabled(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    runner = make_runner()
    runner.set_event_sources_enabled("BatchFunction", False)
    _send_fifo(sqs, provisioned.ref("WorkQueue"), [("g1", "ok-while-disabled")])

    time.sleep(3 * POLL_WAIT_SECONDS)  # several polls' worth: an enabled source would have taken it
    message = sqs.receive_message(QueueUrl=provisioned.ref("WorkQueue"), VisibilityTimeout=0)["Messages"]
    assert [m["Body"] for m in message] == ["ok-while-disabled"]
    assert lines_starting(runner, "BatchFunction", "PROCESSED") == []

    runner.set_event_sources_enabled("BatchFunction", True)
    processed = wait_for(lambda: lines_starting(runner, "BatchFunction", "PROCESSED"), message="processing")
    assert processed == ["PROCESSED g1 ok-while-disabled receive=2"]  # received once by the test above


def test_a_raising_handler_retries_then_dead_letters_with_the_error_logged(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    sqs.send_message(QueueUrl=provisioned.ref("CrashQueue"), MessageBody="poison")
    runner = make_runner()

    dead = _dead_letters(sqs, provisioned.ref("CrashDlq"), 1)

    assert [message["Body"] for message in dead] == ["poison"]
    errors = lines_starting(runner, "CrashFunction", "[ERROR]")
    assert errors == ["[ERROR] RuntimeError: cannot process ['poison']"] * 2
    assert "Traceback (most recent call last):" in runner.logs("CrashFunction")


def test_the_event_has_lambdas_sqs_shape(
    make_runner: RunnerFactory, provisioned: Provisioned, sqs: Any
) -> None:
    sqs.send_message(
        QueueUrl=provisioned.ref("WorkQueue"),
        MessageBody="ok-shape",
        MessageGroupId="tenant-9",
        MessageDeduplicationId="dedup-9",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "send"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    runner = make_runner()

    line = wait_for(lambda: lines_starting(runner, "BatchFunction", "RECORD "), message="a batch")[0]

    record = json.loads(line.removeprefix("RECORD "))
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["body"] == "ok-shape"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == provisioned.attribute("WorkQueue", "Arn")
    assert record["awsRegion"] == "us-east-1"
    attributes = record["attributes"]
    assert attributes["MessageGroupId"] == "tenant-9"
    assert attributes["MessageDeduplicationId"] == "dedup-9"
    assert attributes["ApproximateReceiveCount"] == "1"
    assert {"SequenceNumber", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        attributes
    )
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "send", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }


@pytest.mark.parametrize(
    ("status", "report", "payload", "deleted"),
    [
        ("error", True, None, []),
        ("timeout", False, None, []),
        ("ok", False, {"batchItemFailures": [{"itemIdentifier": "m1"}]}, ["m1", "m2"]),  # not enabled
        ("ok", True, None, ["m1", "m2"]),
        ("ok", True, {}, ["m1", "m2"]),
        ("ok", True, {"batchItemFailures": None}, ["m1", "m2"]),
        ("ok", True, {"batchItemFailures": [{"itemIdentifier": "m2"}]}, ["m1"]),
        ("ok", True, {"batchItemFailures": [{"itemIdentifier": ""}]}, []),
        ("ok", True, {"batchItemFailures": [{"itemIdentifier": "unknown"}]}, []),
        ("ok", True, {"batchItemFailures": [{"messageId": "m2"}]}, []),
        ("ok", True, ["m2"], []),
    ],
)
def test_which_records_lambda_deletes(status: Status, report: bool, payload: Any, deleted: list[str]) -> None:
    records = [{"messageId": "m1"}, {"messageId": "m2"}]
    result = InvocationResult("BatchFunction", "request", status, payload=payload)

    assert [record["messageId"] for record in records_to_delete(records, result, report)] == deleted
