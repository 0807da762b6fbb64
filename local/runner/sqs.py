"""SQS event sources: what Lambda's event source mapping does for a queue.

A poller long-polls the queue, invokes the function with Lambda's SQS event, then deletes the
messages that succeeded. It never deletes a failed message nor moves one to a dead-letter queue:
the queue's visibility timeout and redrive policy do that, as on AWS.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

from local.runner.pool import InvocationResult, RunnerStopped
from local.runner.spec import SqsSource

# Short enough that stop() returns promptly, long enough not to hammer moto.
POLL_WAIT_SECONDS = 1
MAX_RECEIVE_BATCH = 10

logger = logging.getLogger(__name__)


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage result entry."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(
        {
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
    )
    return record


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda spells the fields in camelCase, lists both list fields, and base64-encodes binaries.
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    shaped["stringListValues"] = list(value.get("StringListValues", []))
    shaped["binaryListValues"] = [
        base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])
    ]
    shaped["dataType"] = value["DataType"]
    return shaped


def records_to_delete(
    records: list[dict[str, Any]], result: InvocationResult, report_batch_item_failures: bool
) -> list[dict[str, Any]]:
    """The records Lambda deletes after an invocation.

    An error or a timeout deletes nothing. Without ReportBatchItemFailures success deletes all.
    With it, a null or empty response, or a null or empty `batchItemFailures`, is complete success;
    a malformed response (an item without a non-empty `itemIdentifier` of this batch, or a response
    that is not an object) is a complete failure, so nothing is lost to a handler bug.
    """
    if not result.ok:
        return []
    if not report_batch_item_failures:
        return records
    response = result.payload
    if response is None or response == "":
        return records
    if not isinstance(response, dict):
        logger.warning("%s: response is not an object, treating the batch as failed", result.function)
        return []
    failures = response.get("batchItemFailures") or []
    ids = {record["messageId"] for record in records}
    failed: set[str] = set()
    for item in failures if isinstance(failures, list) else [failures]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            logger.warning(
                "%s: malformed batchItemFailures %r, treating the batch as failed", result.function, item
            )
            return []
        failed.add(identifier)
    return [record for record in records if record["messageId"] not in failed]


class SqsPoller:
    """Lambda's event source mapping for one SQS queue and one function."""

    def __init__(
        self,
        function_id: str,
        source: SqsSource,
        sqs_client: Any,
        invoke: Callable[[str, Any], InvocationResult],
        region: str,
    ) -> None:
        self.function_id = function_id
        self.source = source
        self._sqs = sqs_client
        self._invoke = invoke
        self._region = region
        self._queue_url: str = sqs_client.get_queue_url(QueueName=source.queue_arn.rsplit(":", 1)[-1])[
            "QueueUrl"
        ]
        self._stopping = threading.Event()
        self._enabled = threading.Event()
        self._enabled.set()
        self._receiving = threading.Lock()  # held from a receive until its batch is registered
        # One slot per concurrent batch: ScalingConfig.MaximumConcurrency.
        self._slots = threading.BoundedSemaphore(source.max_concurrency)
        self._thread = threading.Thread(
            target=self._poll, name=f"sqs-{function_id}-{source.event_name}", daemon=True
        )
        self._batches: set[threading.Thread] = set()
        self._batches_lock = threading.Lock()

    @property
    def queue_url(self) -> str:
        return self._queue_url

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; `join` waits for the poll under way (at most POLL_WAIT_SECONDS)."""
        self._stopping.set()

    def set_enabled(self, enabled: bool) -> None:
        """What UpdateEventSourceMapping's Enabled does: a disabled source leaves the queue alone.
        Disabling returns once the receive under way and the batches in flight are done."""
        if enabled:
            self._enabled.set()
            return
        self._enabled.clear()
        with self._receiving, self._batches_lock:
            batches = list(self._batches)
        for batch in batches:
            batch.join()

    def _poll(self) -> None:
        while not self._stopping.is_set():
            if not self._enabled.is_set():
                self._stopping.wait(0.1)
                continue
            if not self._slots.acquire(timeout=0.2):
                continue
            with self._receiving:
                messages = self._receive() if self._enabled.is_set() else []
                if not messages:
                    self._slots.release()
                    continue
                batch = threading.Thread(target=self._process, args=(messages,), daemon=True)
                with self._batches_lock:
                    self._batches.add(batch)
                batch.start()

    def _receive(self) -> list[dict[str, Any]]:
        try:
            messages: list[dict[str, Any]] = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(self.source.batch_size, MAX_RECEIVE_BATCH),
                WaitTimeSeconds=POLL_WAIT_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception:
            if not self._stopping.is_set():
                logger.exception("%s: receive from %s failed", self.function_id, self._queue_url)
                self._stopping.wait(1)
            return []
        return messages

    def _process(self, messages: list[dict[str, Any]]) -> None:
        try:
            records = [
                lambda_sqs_record(message, self.source.queue_arn, self._region) for message in messages
            ]
            try:
                result = self._invoke(self.function_id, {"Records": records})
            except RunnerStopped:
                return
            if not result.ok and result.error is not None:
                logger.info(
                    "%s: batch of %d failed (%s), messages return after the visibility timeout",
                    self.function_id,
                    len(records),
                    result.error.get("errorType"),
                )
            done = records_to_delete(records, result, self.source.report_batch_item_failures)
            self._delete(done)
        finally:
            with self._batches_lock:
                self._batches.discard(threading.current_thread())
            self._slots.release()

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), MAX_RECEIVE_BATCH):
            chunk = records[start : start + MAX_RECEIVE_BATCH]
            response = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                # As on AWS: a receipt handle from before a visibility timeout may be stale.
                logger.warning("%s: delete failed: %s", self.function_id, failure)

    def join(self, grace: float) -> None:
        """Wait for the poller, and up to `grace` seconds for each batch still in flight."""
        self._thread.join()
        with self._batches_lock:
            batches = list(self._batches)
        for batch in batches:
            batch.join(grace)
