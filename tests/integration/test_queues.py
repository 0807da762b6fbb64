"""The SQS adapter against moto, on the FIFO queues provisioned from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.aws import LocalAws
from qbo_sync.adapters.queues.sqs import QboChangeQueue, SqsFifoQueue, SqsVisibility
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


def _receive(client: Any, url: str, wait_seconds: int, count: int = 1) -> list[dict[str, Any]]:
    return client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=count, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
    ).get("Messages", [])


def test_a_failed_message_comes_back_after_its_own_delay_first_in_its_group(
    queue: tuple[SqsFifoQueue, Any],
) -> None:
    fifo, client = queue
    _drain(client, fifo.url)
    fifo.publish_batch([("first", "group-v", "v-1"), ("second", "group-v", "v-2")])
    [first] = _receive(client, fifo.url, wait_seconds=0)  # in flight for the queue's 720 s
    assert first["Body"] == "first"

    refused = SqsVisibility(client, fifo.url).return_after([(first["ReceiptHandle"], 2)])

    assert refused == []
    assert _receive(client, fifo.url, wait_seconds=0) == []  # the group stays locked meanwhile
    again = _receive(client, fifo.url, wait_seconds=20, count=10)  # long before 720 s
    assert [m["Body"] for m in again] == ["first", "second"]  # FIFO order kept
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    for message in again:
        client.delete_message(QueueUrl=fifo.url, ReceiptHandle=message["ReceiptHandle"])


def test_a_delay_of_zero_returns_the_message_at_once(queue: tuple[SqsFifoQueue, Any]) -> None:
    fifo, client = queue
    _drain(client, fifo.url)
    fifo.publish("now", group_id="group-z", deduplication_id="z-1")
    [message] = _receive(client, fifo.url, wait_seconds=0)

    SqsVisibility(client, fifo.url).return_after([(message["ReceiptHandle"], 0)])

    [again] = _receive(client, fifo.url, wait_seconds=5)
    assert again["Body"] == "now"
    client.delete_message(QueueUrl=fifo.url, ReceiptHandle=again["ReceiptHandle"])


def test_more_than_ten_changes_and_a_refused_entry(queue: tuple[SqsFifoQueue, Any]) -> None:
    fifo, client = queue
    _drain(client, fifo.url)
    fifo.publish_batch([(f"m{i}", f"group-{i}", f"many-{i}") for i in range(12)])
    received = _receive(client, fifo.url, wait_seconds=0, count=10)
    received += _receive(client, fifo.url, wait_seconds=0, count=10)
    assert len(received) == 12

    refused = SqsVisibility(client, fifo.url).return_after(
        [(m["ReceiptHandle"], 0) for m in received] + [("not-a-receipt-handle", 0)]
    )

    assert len(refused) == 1 and refused[0].startswith("ReceiptHandleIsInvalid")
    assert sorted(m["Body"] for m in _drain(client, fifo.url)) == sorted(f"m{i}" for i in range(12))


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
