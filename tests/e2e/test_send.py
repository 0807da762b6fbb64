"""[send] acceptance on the whole local stack, counting sends in the QBO emulator's log.

Sends are counted with ``GET /_sandbox/sends`` (one record per email QBO actually sent) and send
attempts with the request log (``operation == "send"``). Redeliveries the queue's 360 s visibility
timeout would delay are driven through ``stack.runner.invoke`` with the SQS FIFO event Lambda would
receive, ApproximateReceiveCount included.
"""

from __future__ import annotations

import hashlib
import html
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from local.operator import signed_link
from local.runner.sqs import records_to_delete
from local.stack import LocalStack
from qbo_sync.domain.commands import DeliveryCommand
from qbo_sync.usecases.copy_invoice import NO_BILLING_EMAIL
from qbo_sync.usecases.send_invoice import CLOCK_TOLERANCE
from tests.e2e.conftest import SUPPORT, World, wait_for

WAIT = 90.0
BILLING_EMAIL = "ap@globex.test"
QBO_ONLY_EMAIL = "accounts@qbo-only.test"
QUEUES = ("InvoiceCommandsQueue", "InvoiceDeliveriesQueue")
DLQS = ("InvoiceCommandsDLQ", "InvoiceDeliveriesDLQ")
COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


# ------------------------------------------------------------------------------------------ helpers
def _sqs(stack: LocalStack) -> Any:
    return stack.provisioned.client("sqs")


def _depth(stack: LocalStack, logical_id: str) -> int:
    attributes = _sqs(stack).get_queue_attributes(
        QueueUrl=stack.provisioned.ref(logical_id), AttributeNames=list(COUNTS)
    )["Attributes"]
    return sum(int(attributes[name]) for name in COUNTS)


def _drained(stack: LocalStack) -> bool:
    """Nothing waiting, in flight (received, not deleted) or delayed on the command and delivery queues:
    every message was consumed. A failed message stays in flight for the 360 s visibility timeout."""
    return all(_depth(stack, queue) == 0 for queue in QUEUES)


def _dead_letters(stack: LocalStack) -> dict[str, int]:
    return {queue: _depth(stack, queue) for queue in DLQS}


def _wait_drained(stack: LocalStack) -> None:
    # Two consecutive empty looks, so a message moving from one queue to the next is not missed.
    wait_for(lambda: _drained(stack) and (time.sleep(0.5) or _drained(stack)), WAIT, "queues drained")


def _sends(world: World) -> list[dict[str, Any]]:
    sends = world.qbo.control("GET", f"/sends?realmId={world.qbo.realm_id}")
    return [sent for sent in sends if sent["realmId"] == world.qbo.realm_id]


def _send_attempts(world: World) -> list[dict[str, Any]]:
    return [entry for entry in world.qbo.requests_log() if entry["operation"] == "send"]


def _writes(world: World, since_seq: int) -> list[dict[str, Any]]:
    """Data requests that change (or try to change) QBO: not reads, queries (POSTed too), CDC or PDFs."""
    reads = {"read", "query", "cdc", "pdf"}
    return [e for e in world.qbo.data_requests(since_seq) if e["operation"] not in reads]


def _deliveries_handled(world: World) -> int:
    """How many delivery messages of this tenant SendInvoiceFunction handled (its own log line)."""
    tenant = f'"tenant_id":"{world.tenant.tenant_id}"'
    lines = world.stack.runner.logs("SendInvoiceFunction")
    return sum(1 for line in lines if '"message":"delivery handled"' in line and tenant in line)


def _audit(world: World) -> list[dict[str, Any]]:
    """The tenant's audit trail, oldest first, read straight from the application table."""
    table = world.stack.provisioned.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": world.stack.provisioned.ref("AppTable"),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"TENANT#{world.tenant.tenant_id}#AUDIT"}},
    }
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    plain = TypeDeserializer()
    return [plain.deserialize(item["record"]) for item in sorted(items, key=lambda i: i["sk"]["S"])]


def _audit_of(world: World, invoice_id: str, action: str) -> list[tuple[str, str | None]]:
    return [
        (record["outcome"], record.get("reason"))
        for record in _audit(world)
        if record.get("invoice_id") == invoice_id and record["action"] == action
    ]


def _tags(record: dict[str, Any]) -> list[str]:
    return sorted(tag["name"] for tag in record["tags"])


def _copied(world: World, invoice_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (record := world.onedesk.record(invoice_id))["externalReferences"].get("qbo") and record,
        WAIT,
        f"invoice {invoice_id} copied",
    )


def _message(world: World, invoice_id: str, startswith: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        record = world.onedesk.record(invoice_id)
        message = record.get("syncMessage") or {}
        return record if str(message.get("text", "")).startswith(startswith) else None

    return wait_for(shown, WAIT, f"sync message {startswith!r} on invoice {invoice_id}")


def _qbo_invoice(world: World, qbo_invoice_id: str) -> dict[str, Any]:
    (invoice,) = [i for i in world.qbo.entities("Invoice") if i["Id"] == qbo_invoice_id]
    return invoice


def _bookkeeper_customer(world: World, name: str, email: str) -> str:
    """A customer the bookkeeper already keeps in QBO, with an email of QBO's own."""
    body = {"DisplayName": name, "PrimaryEmailAddr": {"Address": email}}
    return str(world.qbo.data("POST", "customer", body)["Customer"]["Id"])


def _copy_first(world: World) -> tuple[dict[str, Any], str]:
    """An Open invoice copied to QBO (no send yet): (OneDesk record, QBO invoice id)."""
    org = world.onedesk.organization("Globex Send", contact="Pat Payer", email=BILLING_EMAIL)
    invoice = world.open_invoice(org, [SUPPORT])
    world.command(invoice["id"], "copy")
    record = _copied(world, invoice["id"])
    return record, record["externalReferences"]["qbo"]["invoiceId"]


def _delivery(
    world: World, record: dict[str, Any], qbo_invoice_id: str, request_id: str, send_to: str
) -> str:
    """The DeliveryCommand body copy_invoice queues for a send request (same model, same fields)."""
    return DeliveryCommand(
        tenant_id=world.tenant.tenant_id,
        realm_id=world.qbo.realm_id,
        invoice_id=record["id"],
        invoice_number=record["number"],
        qbo_invoice_id=qbo_invoice_id,
        send_to=send_to,
        request_id=request_id,
        requested_at=datetime.now(UTC),
    ).model_dump_json()


def _publish(stack: LocalStack, world: World, invoice_id: str, body: str) -> None:
    _sqs(stack).send_message(
        QueueUrl=stack.provisioned.ref("InvoiceDeliveriesQueue"),
        MessageBody=body,
        MessageGroupId=f"{world.tenant.tenant_id}#{invoice_id}",
        MessageDeduplicationId=uuid.uuid4().hex,  # a new id each time: SQS must not drop the repeat
    )


class Redelivery:
    """One message of invoice-deliveries.fifo as Lambda's SQS event source hands it to the function:
    same messageId on every receive, a new receipt handle, ApproximateReceiveCount counting up."""

    def __init__(self, stack: LocalStack, world: World, invoice_id: str, body: str) -> None:
        self.stack, self.body = stack, body
        self.message_id = str(uuid.uuid4())
        self.group_id = f"{world.tenant.tenant_id}#{invoice_id}"
        self.sent_ms = str(int(time.time() * 1000))
        url = stack.provisioned.ref("InvoiceDeliveriesQueue")
        self.arn = _sqs(stack).get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def event(self, receive_count: int) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": self.message_id,
                    "receiptHandle": f"{uuid.uuid4().hex}#{receive_count}",
                    "body": self.body,
                    "attributes": {
                        "ApproximateReceiveCount": str(receive_count),
                        "SentTimestamp": self.sent_ms,
                        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                        "ApproximateFirstReceiveTimestamp": self.sent_ms,
                        "SequenceNumber": "18849496460467696128",
                        "MessageGroupId": self.group_id,
                        "MessageDeduplicationId": hashlib.sha256(self.body.encode()).hexdigest(),
                    },
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(self.body.encode()).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": self.stack.provisioned.region,
                }
            ]
        }

    def receive(self, receive_count: int) -> bool:
        """Invoke the function with this receive; True when Lambda would delete the message (consumed),
        False when it stays on the queue to be delivered again (an invocation error, a timeout, or a
        batchItemFailures entry), exactly as the runner's event source decides."""
        event = self.event(receive_count)
        result = self.stack.runner.invoke("SendInvoiceFunction", event)
        assert result.ok, result  # a batch whose records all failed is answered, never raised
        return bool(records_to_delete(event["Records"], result, report_batch_item_failures=True))


def _fault(world: World, **rule: Any) -> None:
    world.qbo.control("POST", "/faults", {"method": "POST", "realmId": world.qbo.realm_id, **rule})


# ------------------------------------------------------------------------------------------ tests
def test_send_tags_onedesk_marks_qbo_emailed_uses_onedesk_email_and_a_new_request_sends_again(
    us_world: World,
) -> None:
    world = us_world
    _bookkeeper_customer(world, "Globex Send", QBO_ONLY_EMAIL)
    org = world.onedesk.organization("Globex Send", contact="Pat Payer", email=BILLING_EMAIL)
    invoice = world.open_invoice(org, [SUPPORT])

    world.command(invoice["id"], "send", "send-1")
    record = _message(world, invoice["id"], "Sent by QuickBooks Online")
    _wait_drained(world.stack)

    qbo_invoice_id = record["externalReferences"]["qbo"]["invoiceId"]
    assert record["syncMessage"]["text"] == f"Sent by QuickBooks Online to {BILLING_EMAIL}."
    assert _tags(record) == ["Copied to QBO", "Sent via QBO"]
    (sent_tag,) = [tag for tag in record["tags"] if tag["name"] == "Sent via QBO"]
    assert sent_tag["detail"] == BILLING_EMAIL
    sends = _sends(world)
    assert [(s["invoiceId"], s["to"]) for s in sends] == [(qbo_invoice_id, BILLING_EMAIL)]
    qbo_invoice = _qbo_invoice(world, qbo_invoice_id)
    assert qbo_invoice["EmailStatus"] == "EmailSent"
    assert qbo_invoice["DeliveryInfo"]["DeliveryType"] == "Email"
    assert qbo_invoice["BillEmail"]["Address"] == BILLING_EMAIL
    assert [entry["status"] for entry in _send_attempts(world)] == [200]
    assert _audit_of(world, invoice["id"], "send") == [("done", f"emailed to {BILLING_EMAIL}")]

    # The bookkeeper points the QBO invoice at QBO's own address; OneDesk's billing email still wins.
    world.qbo.data(
        "POST",
        "invoice",
        {
            "Id": qbo_invoice_id,
            "SyncToken": qbo_invoice["SyncToken"],
            "sparse": True,
            "BillEmail": {"Address": QBO_ONLY_EMAIL},
        },
    )
    world.command(invoice["id"], "send", "send-1")  # the same request again: nothing new
    _wait_drained(world.stack)
    assert len(_sends(world)) == 1

    world.command(invoice["id"], "send", "send-2")  # a new, deliberate send request
    wait_for(lambda: len(_sends(world)) == 2, WAIT, "the second send")
    _wait_drained(world.stack)
    assert [(s["invoiceId"], s["to"]) for s in _sends(world)] == [(qbo_invoice_id, BILLING_EMAIL)] * 2
    assert _qbo_invoice(world, qbo_invoice_id)["BillEmail"]["Address"] == BILLING_EMAIL
    assert [entry["status"] for entry in _send_attempts(world)] == [200, 200]
    assert _audit_of(world, invoice["id"], "send") == [("done", f"emailed to {BILLING_EMAIL}")] * 2


def test_same_send_delivered_ten_times_is_one_email(us_world: World) -> None:
    world, stack = us_world, us_world.stack
    dead_before = _dead_letters(stack)
    record, qbo_invoice_id = _copy_first(world)
    _wait_drained(stack)
    body = _delivery(world, record, qbo_invoice_id, "send-once", BILLING_EMAIL)

    for _ in range(10):
        _publish(stack, world, record["id"], body)
    _wait_drained(stack)
    assert _deliveries_handled(world) == 10  # all ten reached the function: SQS deduplicated none
    assert [(s["invoiceId"], s["to"]) for s in _sends(world)] == [(qbo_invoice_id, BILLING_EMAIL)]

    # And the user's "Send invoice" request itself, POSTed 10 times with the same request id.
    for _ in range(10):
        world.command(record["id"], "send", "send-once")
    _wait_drained(stack)
    # SQS would drop repeats of a command within 5 minutes; moto only drops those still queued, so
    # between 1 and 10 more deliveries reach the function here. Either way none may send again.
    assert _deliveries_handled(world) > 10

    assert [(s["invoiceId"], s["to"]) for s in _sends(world)] == [(qbo_invoice_id, BILLING_EMAIL)]
    assert [entry["status"] for entry in _send_attempts(world)] == [200]
    assert _audit_of(world, record["id"], "send") == [("done", f"emailed to {BILLING_EMAIL}")]
    assert _dead_letters(stack) == dead_before
    assert "Sent via QBO" in _tags(world.onedesk.record(record["id"]))


def _crash_after_qbo_sent(stack: LocalStack, world: World) -> tuple[dict[str, Any], str, Redelivery]:
    """QBO sends (and stores the requestid answer) but every answer the client gets is a 503, on each
    of its in-call retries too: the invocation fails after QBO emailed the invoice."""
    record, qbo_invoice_id = _copy_first(world)
    _wait_drained(stack)
    message = Redelivery(
        stack, world, record["id"], _delivery(world, record, qbo_invoice_id, "crash-send", BILLING_EMAIL)
    )
    _fault(world, path_regex=r"/invoice/[^/]+/send$", status=503, count=50, after_commit=True)

    assert not message.receive(1)  # failed: SQS will deliver it again

    assert len(_sends(world)) == 1  # QBO did email it
    attempts = _send_attempts(world)
    assert len(attempts) >= 2, attempts  # the client retried within the call...
    assert {entry["status"] for entry in attempts} == {503}  # ...and never learned it was sent
    world.qbo.control("DELETE", "/faults")
    return record, qbo_invoice_id, message


def test_crash_after_qbo_accepted_the_send_then_redelivery_is_still_one_email(us_world: World) -> None:
    world, stack = us_world, us_world.stack
    _record, qbo_invoice_id, message = _crash_after_qbo_sent(stack, world)

    assert message.receive(2)  # the redelivery succeeds: the message is deleted
    assert message.receive(3)  # and one more (a duplicate delivery) changes nothing

    assert [(s["invoiceId"], s["to"]) for s in _sends(world)] == [(qbo_invoice_id, BILLING_EMAIL)]
    assert _qbo_invoice(world, qbo_invoice_id)["EmailStatus"] == "EmailSent"


def test_crash_after_qbo_accepted_the_send_then_redelivery_tells_onedesk(us_world: World) -> None:
    world, stack = us_world, us_world.stack
    record, _qbo_invoice_id, message = _crash_after_qbo_sent(stack, world)

    assert message.receive(2)

    after = world.onedesk.record(record["id"])
    assert _tags(after) == ["Copied to QBO", "Sent via QBO"]
    assert after["syncMessage"]["text"] == f"Sent by QuickBooks Online to {BILLING_EMAIL}."


def test_new_send_request_whose_first_attempt_failed_before_qbo_is_sent_on_redelivery(
    us_world: World,
) -> None:
    world, stack = us_world, us_world.stack
    org = world.onedesk.organization("Globex Send", contact="Pat Payer", email=BILLING_EMAIL)
    invoice = world.open_invoice(org, [SUPPORT])
    world.command(invoice["id"], "send", "first-send")
    record = _message(world, invoice["id"], "Sent by QuickBooks Online")
    _wait_drained(stack)
    qbo_invoice_id = record["externalReferences"]["qbo"]["invoiceId"]
    assert len(_sends(world)) == 1

    # "Send again", later than the clock tolerance (two clicks seconds apart email the customer once):
    # QBO is unavailable (503 before doing anything) for the whole first attempt.
    time.sleep(CLOCK_TOLERANCE.total_seconds() + 1)
    message = Redelivery(
        stack, world, record["id"], _delivery(world, record, qbo_invoice_id, "second-send", BILLING_EMAIL)
    )
    _fault(world, path_regex=r"/invoice/[^/]+/send$", status=503, count=50)
    assert not message.receive(1)
    assert len(_sends(world)) == 1  # nothing was sent by the failed attempt
    world.qbo.control("DELETE", "/faults")

    assert message.receive(2)
    assert [(s["invoiceId"], s["to"]) for s in _sends(world)] == [(qbo_invoice_id, BILLING_EMAIL)] * 2


def test_no_billing_email_copies_but_never_sends_and_says_why(us_world: World) -> None:
    world, stack = us_world, us_world.stack
    # QBO knows an email for this customer; without OneDesk's billing email the product still never sends.
    _bookkeeper_customer(world, "Globex Send", QBO_ONLY_EMAIL)
    org = world.onedesk.organization("Globex Send", contact="Pat Payer", email=None)
    invoice = world.open_invoice(org, [SUPPORT])

    world.command(invoice["id"], "send")
    record = _message(world, invoice["id"], NO_BILLING_EMAIL)
    _wait_drained(stack)

    assert record["syncMessage"]["level"] == "warning"
    assert record["syncMessage"]["text"] == NO_BILLING_EMAIL
    qbo_invoice_id = record["externalReferences"]["qbo"]["invoiceId"]
    assert _tags(world.onedesk.record(invoice["id"])) == ["Copied to QBO"]
    qbo_invoice = _qbo_invoice(world, qbo_invoice_id)
    assert qbo_invoice["EmailStatus"] == "NotSet"
    assert "BillEmail" not in qbo_invoice
    assert _sends(world) == []
    assert _send_attempts(world) == []
    assert _audit_of(world, invoice["id"], "send") == [("refused", NO_BILLING_EMAIL)]


def _send_on_draft(world: World) -> tuple[dict[str, Any], dict[str, Any], int]:
    org = world.onedesk.organization("Globex Draft", contact="Pat Payer", email=BILLING_EMAIL)
    draft = world.onedesk.invoice(org, [SUPPORT])
    assert draft["status"] == "Draft"
    before = world.qbo.last_seq()
    world.command(draft["id"], "send")
    record = _message(world, draft["id"], "Not copied")
    _wait_drained(world.stack)
    return draft, record, before


def test_draft_invoice_send_is_refused_with_its_reason_and_nothing_is_sent(us_world: World) -> None:
    world = us_world
    draft, record, _before = _send_on_draft(world)

    assert record["syncMessage"]["level"] == "error"
    assert record["syncMessage"]["text"] == (
        f"Not copied to QuickBooks Online: Invoice {draft['number']} is Draft: only Open invoices can be "
        "copied to QuickBooks Online."
    )
    assert record["tags"] == []
    assert "qbo" not in record["externalReferences"]
    assert _sends(world) == []
    assert _send_attempts(world) == []
    assert world.qbo.entities("Invoice") == []
    assert _audit_of(world, draft["id"], "send") == []
    refusal = f"Invoice {draft['number']} is Draft: only Open invoices can be copied to QuickBooks Online."
    assert _audit_of(world, draft["id"], "copy") == [("refused", refusal)]


def test_draft_invoice_send_writes_nothing_to_qbo(us_world: World) -> None:
    world = us_world
    _draft, _record, before = _send_on_draft(world)

    assert world.qbo.named("Customer", "DisplayName", "Globex Draft") == []
    assert world.qbo.named("Item", "Name", "Support") == []
    assert _writes(world, before) == []


def test_invalid_billing_email_is_refused_with_its_reason_once_not_in_a_retry_loop(us_world: World) -> None:
    """QBO rejects "not-an-email" wherever it appears (customer, invoice BillEmail, sendTo); the product
    learns it when it creates the customer, before any send, and stops there for good."""
    world, stack = us_world, us_world.stack
    dead_before = _dead_letters(stack)
    org = world.onedesk.organization("Globex Bad Email", contact="Pat Payer", email="not-an-email")
    invoice = world.open_invoice(org, [SUPPORT])
    before = world.qbo.last_seq()

    world.command(invoice["id"], "send")
    record = _message(world, invoice["id"], "Not copied")
    _wait_drained(stack)
    time.sleep(2)  # a retry loop would show up as more QBO requests meanwhile

    reason = (
        "QuickBooks Online refused to create 'Globex Bad Email': QBO 6000: Business Validation Error | "
        "Invalid email address: not-an-email | element=PrimaryEmailAddr"
    )
    assert record["syncMessage"]["level"] == "error"
    assert record["syncMessage"]["text"] == f"Not copied to QuickBooks Online: {reason}"
    assert _audit_of(world, invoice["id"], "copy") == [("refused", reason)]
    assert _audit_of(world, invoice["id"], "send") == []
    page = world.admin.open(signed_link(world.api, world.tenant, "/qbo/settings"))
    assert html.escape(reason, quote=True) in page.text  # the admin's Recent activity shows it too
    writes = _writes(world, before)
    assert [(e["operation"], e["status"]) for e in writes] == [("batch", 200)], writes  # refused inside
    assert _send_attempts(world) == []
    assert _sends(world) == []
    assert world.qbo.entities("Invoice") == []
    assert "Sent via QBO" not in _tags(world.onedesk.record(invoice["id"]))
    assert _dead_letters(stack) == dead_before


def test_qbo_refusing_the_send_is_recorded_once_and_the_message_consumed(us_world: World) -> None:
    """QBO refuses the send itself (here its 40-emails-a-day limit, which the bookkeeper used up): the
    reason reaches OneDesk and the audit, the delivery is consumed, and QBO is asked exactly once."""
    world, stack = us_world, us_world.stack
    dead_before = _dead_letters(stack)
    (amy,) = world.qbo.named("Customer", "DisplayName", "Amy's Bird Sanctuary")
    (hours,) = world.qbo.named("Item", "Name", "Hours")
    theirs = world.qbo.data(
        "POST",
        "invoice",
        {
            "CustomerRef": {"value": amy["Id"]},
            "BillEmail": {"Address": "amy@birds.test"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 10,
                    "SalesItemLineDetail": {"ItemRef": {"value": hours["Id"]}},
                }
            ],
        },
    )["Invoice"]["Id"]
    for _ in range(40):
        world.qbo.data("POST", f"invoice/{theirs}/send")
    assert len(_sends(world)) == 40

    org = world.onedesk.organization("Globex Send", contact="Pat Payer", email=BILLING_EMAIL)
    invoice = world.open_invoice(org, [SUPPORT])
    world.command(invoice["id"], "send")
    record = _message(world, invoice["id"], "Not sent")
    _wait_drained(stack)
    time.sleep(2)  # a retry loop would show up as more send attempts meanwhile

    qbo_invoice_id = record["externalReferences"]["qbo"]["invoiceId"]
    reason = (
        "Not sent by QuickBooks Online: The daily email limit of 40 emails for this sandbox company has "
        "been reached; try again tomorrow"
    )
    assert record["syncMessage"]["level"] == "error"
    assert record["syncMessage"]["text"] == reason
    assert _tags(record) == ["Copied to QBO"]
    ours = [e for e in _send_attempts(world) if f"/invoice/{qbo_invoice_id}/send" in e["path"]]
    assert [(e["status"], e["fault_code"]) for e in ours] == [(400, "6000")]
    assert [s for s in _sends(world) if s["invoiceId"] == qbo_invoice_id] == []
    assert _qbo_invoice(world, qbo_invoice_id)["EmailStatus"] == "NotSet"
    assert _audit_of(world, invoice["id"], "send") == [("refused", reason)]
    assert _dead_letters(stack) == dead_before
