"""Publishing to the FIFO queues, rejecting a malformed message straight to its dead-letter queue
with the reason (retrying a message that can never parse would only delay the same verdict), and
setting when a received message becomes visible again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qbo_sync.adapters.aws import concurrently
from qbo_sync.domain.commands import (
    DeliveryCommand,
    InvoiceCommand,
    QboChange,
    command_deduplication_id,
    command_group_id,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

_MAX_ID = 128
_MAX_ATTRIBUTE = 1024


def fifo_id(raw: str) -> str:
    """FIFO group/dedup ids allow 128 printable ASCII characters: hash anything else."""
    if len(raw) <= _MAX_ID and raw.isascii() and all(c.isalnum() or c in "-_.:#" for c in raw):
        return raw
    return hashlib.sha256(raw.encode()).hexdigest()


class SqsFifoQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def publish(self, body: str, *, group_id: str, deduplication_id: str, reason: str | None = None) -> None:
        attributes: dict[str, MessageAttributeValueTypeDef] = (
            {"error_reason": {"DataType": "String", "StringValue": reason[:_MAX_ATTRIBUTE]}} if reason else {}
        )
        self._client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=fifo_id(group_id),
            MessageDeduplicationId=fifo_id(deduplication_id),
            MessageAttributes=attributes,
        )

    def publish_batch(self, messages: Sequence[tuple[str, str, str]], *, ordered: bool = True) -> None:
        """(body, group id, deduplication id) triples, ten per SendMessageBatch call (SQS's limit) and
        within its 256 KB per call; any entry SQS refuses raises, so nothing is dropped silently.

        ``ordered``: one call after the other, so each group keeps the order given. Otherwise the calls
        run concurrently (thousands of messages in well under a second on AWS), for messages whose
        order does not matter; every call is made even when one fails."""
        chunks = list(_batches(messages))
        if ordered:
            for chunk in chunks:
                self._send_batch(chunk)
        else:
            concurrently(self._send_batch, chunks)

    def _send_batch(self, chunk: list[tuple[str, str, str]]) -> None:
        response = self._client.send_message_batch(
            QueueUrl=self.url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": body,
                    "MessageGroupId": fifo_id(group),
                    "MessageDeduplicationId": fifo_id(dedup),
                }
                for index, (body, group, dedup) in enumerate(chunk)
            ],
        )
        if failed := response.get("Failed"):
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
            raise RuntimeError(f"SQS refused {len(failed)} of {len(chunk)} messages: {reasons}")

    def ping(self) -> None:
        self._client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])


_BATCH_ENTRIES = 10
_BATCH_BYTES = 256 * 1024


def _batches(messages: Sequence[tuple[str, str, str]]) -> Iterator[list[tuple[str, str, str]]]:
    chunk: list[tuple[str, str, str]] = []
    size = 0
    for message in messages:
        body_size = len(message[0].encode())
        if chunk and (len(chunk) == _BATCH_ENTRIES or size + body_size > _BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += body_size
    if chunk:
        yield chunk


class SqsVisibility:
    """When received messages of one queue become visible again (a consumer's failed records)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def return_after(self, delays: Sequence[tuple[str, int]]) -> list[str]:
        """(receipt handle, seconds) pairs, ten per ChangeMessageVisibilityBatch call. Returns why SQS
        refused any entry (a receipt handle that is no longer valid, say): that message keeps the
        visibility timeout it had, so it still comes back, only later."""
        refused: list[str] = []
        for start in range(0, len(delays), _BATCH_ENTRIES):
            chunk = delays[start : start + _BATCH_ENTRIES]
            response = self._client.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for index, (handle, seconds) in enumerate(chunk)
                ],
            )
            refused += [f"{f.get('Code')}: {f.get('Message')}" for f in response.get("Failed", [])]
        return refused


class InvoiceCommandQueue:
    def __init__(self, queue: SqsFifoQueue, shards: int) -> None:
        self._queue, self._shards = queue, shards

    def enqueue(self, command: InvoiceCommand) -> None:
        self.enqueue_many([command])

    def enqueue_many(self, commands: Sequence[InvoiceCommand]) -> None:
        self._queue.publish_batch(
            [
                (
                    command.model_dump_json(),
                    command_group_id(command.tenant_id, command.invoice_id, self._shards),
                    command_deduplication_id(command),
                )
                for command in commands
            ]
        )


class InvoiceDeliveryQueue:
    def __init__(self, queue: SqsFifoQueue) -> None:
        self._queue = queue

    def enqueue(self, delivery: DeliveryCommand) -> None:
        self._queue.publish(
            delivery.model_dump_json(),
            group_id=f"{delivery.tenant_id}#{delivery.invoice_id}",
            deduplication_id=f"{delivery.tenant_id}:{delivery.invoice_id}:{delivery.request_id}",
        )


class QboChangeQueue:
    def __init__(self, queue: SqsFifoQueue) -> None:
        self._queue = queue

    def enqueue_many(self, changes: Sequence[QboChange]) -> None:
        """Unordered: each change only makes sync_payments read QBO's current state, so the order in
        which they arrive cannot change the outcome. The event id is the deduplication id, so Intuit
        resending a batch within SQS's 5-minute window queues nothing twice."""
        self._queue.publish_batch(
            [(change.model_dump_json(), change.realm_id, change.event_id) for change in changes],
            ordered=False,
        )


class DeadLetters:
    """Sends a record that can never be processed to the function's DLQ, reason attached, replayable
    with SQS's redrive (StartMessageMoveTask) once the cause is fixed."""

    def __init__(self, queue: SqsFifoQueue) -> None:
        self._queue = queue

    def reject(self, record: SQSRecord, reason: str) -> None:
        self._queue.publish(
            record.body,
            group_id=record.attributes.message_group_id or "rejected",
            deduplication_id=record.message_id,
            reason=reason,
        )
