"""The SQS adapter against moto, on the FIFO queues provisioned from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.aws import LocalAws
from qbo_sync.adapters.queues.sqs import QboChangeQueue, SqsFifoQueue
from qbo_sync.domain.commands import QboChange

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def queue() -> Iterator[tuple[SqsFifoQueue, Any]]:
    with LocalAws() as aws:
        provisioned = aws.provision(TEMPLATE, {"Stage": "local"})
        client = provisioned.client("sqs")
        yield SqsFifoQueue(client, provisioned.ref("InvoiceCommandsQueue")), client


def _drain(client: Any, url: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        received += batch
        for message in batch:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_publish_batch_sends_every_message_in_calls_of_ten_or_256_kb(queue: tuple[SqsFifoQueue, Any]) -> None:
    fifo, client = queue
    big = "x" * 60_000  # four of these already exceed one call's 256 KB
    messages = [(f"{i}:{big if i < 8 else ''}", "group-a", f"dedup-{i}") for i in range(25)]

    fifo.publish_batch(messages)

    received = _drain(client, fifo.url)
    assert sorted(m["Body"] for m in received) == sorted(body for body, _, _ in messages)
    assert [m["Body"].split(":")[0] for m in received] == [str(i) for i in range(25)]  # one group: in order


def test_the_same_deduplication_id_is_one_message(queue: tuple[SqsFifoQueue, Any]) -> None:
    fifo, client = queue
    fifo.publish_batch([("same", "group-b", "dedup-x"), ("same", "group-b", "dedup-x")])
    fifo.publish("same", group_id="group-b", deduplication_id="dedup-x")
    assert [m["Body"] for m in _drain(client, fifo.url)] == ["same"]


def test_unordered_publishing_sends_every_message_once(queue: tuple[SqsFifoQueue, Any]) -> None:
    fifo, client = queue
    messages = [(f"change-{i}", f"realm-{i % 3}", f"event-{i}") for i in range(95)]

    fifo.publish_batch([*messages, *messages[:20]], ordered=False)  # the repeats are deduplicated

    received = _drain(client, fifo.url)
    assert sorted(m["Body"] for m in received) == sorted(body for body, _, _ in messages)


def test_qbo_changes_are_queued_by_realm_with_the_event_id_as_deduplication_id(
    queue: tuple[SqsFifoQueue, Any],
) -> None:
    fifo, client = queue
    changes = [
        QboChange(
            realm_id=f"913{n % 2}", entity="Payment", entity_id=str(n), operation="updated", event_id=f"e-{n}"
        )
        for n in range(23)
    ]

    QboChangeQueue(fifo).enqueue_many(changes)

    received = _drain(client, fifo.url)
    queued = {QboChange.model_validate_json(m["Body"]).event_id: m for m in received}
    assert len(received) == len(changes)
    assert {event_id: QboChange.model_validate_json(m["Body"]) for event_id, m in queued.items()} == {
        c.event_id: c for c in changes
    }
    by_event = {event_id: m["Attributes"] for event_id, m in queued.items()}
    assert all(by_event[c.event_id]["MessageGroupId"] == c.realm_id for c in changes)
    assert all(by_event[c.event_id]["MessageDeduplicationId"] == c.event_id for c in changes)
