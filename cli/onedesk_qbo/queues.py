"""The product's queues as an operator sees them: by name, with their dead-letter queues and depths.

Publishing reuses the product's queue adapter (``SqsFifoQueue``); what only an operator does (reading
depths, finding a queue's DLQ from its RedrivePolicy, holding and deleting dead letters) is the small
adapter ``QueueAdmin`` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from qbo_sync.config import Settings
from qbo_sync.domain.commands import DeliveryCommand, InvoiceCommand, QboChange

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class QueueSpec:
    """A queue by the name operators use, the setting holding its URL, and what its messages are."""

    name: str
    setting: str
    message: type[BaseModel]
    owner_field: str  # who a message belongs to: a tenant, or (QBO changes) a realm
    subject_fields: tuple[str, ...]
    action_field: str | None
    action: str | None = None  # the action of every message, where the body names none

    def url(self, settings: Settings) -> str:
        return settings.require(self.setting)


QUEUES = {
    spec.name: spec
    for spec in (
        QueueSpec(
            "invoice-commands",
            "invoice_commands_queue_url",
            InvoiceCommand,
            "tenant_id",
            ("invoice_id",),
            "action",
        ),
        QueueSpec(
            "invoice-deliveries",
            "invoice_deliveries_queue_url",
            DeliveryCommand,
            "tenant_id",
            ("invoice_id",),
            None,
            action="send",
        ),
        QueueSpec(
            "qbo-changes",
            "qbo_changes_queue_url",
            QboChange,
            "realm_id",
            ("entity", "entity_id"),
            "operation",
        ),
    )
}


@dataclass(frozen=True)
class MessageSummary:
    """What a message is about, read leniently: a dead letter is often one that does not parse."""

    owner: str | None
    subject: str | None
    action: str | None
    problem: str | None  # why it is not a valid message of its queue, if it is not


def summarize(spec: QueueSpec, body: str) -> MessageSummary:
    try:
        fields: Any = json.loads(body)
    except ValueError:
        return MessageSummary(None, None, None, "not JSON")
    if not isinstance(fields, dict):
        return MessageSummary(None, None, None, "not a JSON object")
    subject_parts = [str(fields[name]) for name in spec.subject_fields if fields.get(name) is not None]
    action = fields.get(spec.action_field) if spec.action_field else spec.action
    try:
        spec.message.model_validate(fields)
        problem = None
    except ValidationError as invalid:
        problem = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in invalid.errors(include_url=False)
        )
    owner = fields.get(spec.owner_field)
    return MessageSummary(
        str(owner) if owner is not None else None,
        " ".join(subject_parts) or None,
        str(action) if action is not None else None,
        problem,
    )


class NoDeadLetterQueue(LookupError):
    pass


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    group_id: str
    receive_count: int
    error_reason: str | None  # set when a function rejected the message as malformed


# SQS's limit per ReceiveMessage, and what a FIFO queue hands out of one message group until those are
# deleted or visible again.
MAX_RECEIVE = 10


class QueueAdmin:
    def __init__(self, client: SQSClient) -> None:
        self._client = client

    def depth(self, url: str) -> QueueDepth:
        attributes = self._client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueDepth(
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def dead_letter_queue(self, url: str) -> str:
        """The queue's DLQ, from its RedrivePolicy (the same for a deployed and a local stack)."""
        attributes = self._client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]
        if "RedrivePolicy" not in attributes:
            raise NoDeadLetterQueue(f"{url} has no dead-letter queue (RedrivePolicy)")
        # arn:aws:sqs:<region>:<account>:<name>
        *_, account, name = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].split(":")
        return self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

    def hold(self, url: str, limit: int, seconds: int) -> list[DeadLetter]:
        """Receive up to ``limit`` messages and keep them invisible to others for ``seconds``; until one is
        deleted it stays on the queue, so nothing is lost if the operator stops here."""
        held: list[DeadLetter] = []
        while len(held) < limit:
            response = self._client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(MAX_RECEIVE, limit - len(held)),
                VisibilityTimeout=seconds,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return held
            for message in messages:
                attributes = message.get("Attributes", {})
                reason = message.get("MessageAttributes", {}).get("error_reason")
                held.append(
                    DeadLetter(
                        message_id=message["MessageId"],
                        receipt_handle=message["ReceiptHandle"],
                        body=message["Body"],
                        group_id=attributes["MessageGroupId"],  # every message of a FIFO queue has one
                        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                        error_reason=reason.get("StringValue") if reason else None,
                    )
                )
        return held

    def release(self, url: str, letters: list[DeadLetter]) -> None:
        """Make held messages visible again at once."""
        for letter in letters:
            self._client.change_message_visibility(
                QueueUrl=url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )

    def delete(self, url: str, letter: DeadLetter) -> None:
        self._client.delete_message(QueueUrl=url, ReceiptHandle=letter.receipt_handle)
