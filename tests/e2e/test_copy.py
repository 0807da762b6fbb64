"""[copy] acceptance on the whole local stack, counting requests in the QBO emulator's log."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.e2e.conftest import (
    SUPPORT,
    TRAINING,
    World,
    edit_and_reopen,
    queue_depth,
    sqs,
    sqs_event,
    synced,
    wait_for,
)


def _copied(world: World, invoice_id: str) -> dict:
    return wait_for(
        lambda: (
            (record := world.onedesk.record(invoice_id))["externalReferences"].get("qbo")
            and record["tags"]
            and record
        ),
        what=f"invoice {invoice_id} copied",
    )


def test_first_copy_creates_customer_items_and_invoice_in_at_most_five_requests(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Initech E2E", contact="Bill Lumbergh", email="bill@initech.test")
    invoice = world.open_invoice(org, [SUPPORT, TRAINING])
    before = world.qbo.last_seq()

    world.command(invoice["id"])
    record = _copied(world, invoice["id"])

    qbo_invoice_id = record["externalReferences"]["qbo"]["invoiceId"]
    assert [tag["name"] for tag in record["tags"]] == ["Copied to QBO"]
    (qbo_invoice,) = [i for i in world.qbo.entities("Invoice") if i["Id"] == qbo_invoice_id]
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(str(record["total"])) == Decimal("279.98")
    (customer,) = world.qbo.named("Customer", "DisplayName", "Initech E2E")
    assert customer["PrimaryEmailAddr"]["Address"] == "bill@initech.test"
    assert len(world.qbo.named("Item", "Name", "Support")) == 1
    assert len(world.qbo.named("Item", "Name", "Training")) == 1
    lines = [line for line in qbo_invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [line["Description"] for line in lines] == ["Fix login page", "Onboarding call"]
    assert Decimal(str(lines[1]["Amount"])) == Decimal("99.98")
    requests_made = world.qbo.data_requests(before)
    assert len(requests_made) <= 5, requests_made


def _audit_count(world: World, invoice_id: str, outcome: str) -> int:
    from qbo_sync import wiring  # noqa: PLC0415 - the operator reads the audit log the product wrote

    records = wiring.audit_log().recent(world.tenant.tenant_id, limit=200)
    return sum(1 for r in records if r.invoice_id == invoice_id and r.outcome.value == outcome)


def test_recopy_of_a_changed_invoice_is_one_request_and_unchanged_is_one_read(
    us_world: World, quiet_webhooks: None
) -> None:
    world = us_world
    org = world.onedesk.organization("Umbrella E2E")
    invoice = world.open_invoice(org, [SUPPORT])
    world.command(invoice["id"])
    first = synced(world, invoice["id"], "180.00")

    before = world.qbo.last_seq()
    edit_and_reopen(world, invoice["id"], [{**SUPPORT, "hours": 2}])
    world.command(invoice["id"])
    second = synced(world, invoice["id"], "240.00")
    assert second["Id"] == first["Id"]  # P8: the same QBO invoice
    assert int(second["SyncToken"]) > int(first["SyncToken"])
    assert len(world.qbo.data_requests(before)) == 1

    # An explicit "copy" of an unchanged invoice reads it once: still there, not voided, not edited.
    before = world.qbo.last_seq()
    world.command(invoice["id"])
    wait_for(lambda: _audit_count(world, invoice["id"], "unchanged") >= 1, what="unchanged re-copy audited")
    (read,) = world.qbo.data_requests(before)
    assert read["method"] == "GET" and read["path"].endswith(f"/invoice/{first['Id']}")


def test_the_same_command_ten_times_makes_one_qbo_invoice(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Hooli E2E")
    invoice = world.open_invoice(org, [SUPPORT])
    for _ in range(10):
        world.command(invoice["id"])  # distinct request ids: SQS does not deduplicate them
    synced(world, invoice["id"], "180.00")
    wait_for(
        lambda: _audit_count(world, invoice["id"], "unchanged") >= 9, what="nine no-op copies", timeout=120
    )
    hooli = world.qbo.named("Customer", "DisplayName", "Hooli E2E")[0]["Id"]
    assert len([i for i in world.qbo.entities("Invoice") if i["CustomerRef"]["value"] == hooli]) == 1


def test_fifty_invoices_of_one_new_customer_make_one_customer(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Massive Dynamic E2E")
    invoices = [world.open_invoice(org, [SUPPORT]) for _ in range(50)]
    for invoice in invoices:
        world.command(invoice["id"])

    def all_copied() -> bool:
        return all(world.onedesk.record(i["id"])["externalReferences"].get("qbo") for i in invoices)

    wait_for(all_copied, timeout=240, what="50 invoices copied")
    assert len(world.qbo.named("Customer", "DisplayName", "Massive Dynamic E2E")) == 1
    customer_id = world.qbo.named("Customer", "DisplayName", "Massive Dynamic E2E")[0]["Id"]
    assert len([i for i in world.qbo.entities("Invoice") if i["CustomerRef"]["value"] == customer_id]) == 50
    assert len(world.qbo.named("Item", "Name", "Support")) == 1


NAMES = ["O'Brien & Sons", "Café Zürich", "Bob’s Surf Shop"]
LONG_SERVICE = "Implementation " + "x" * 85  # exactly 100 characters


def test_awkward_names_are_created_then_matched_without_duplicates(us_world: World) -> None:
    world = us_world
    assert len(LONG_SERVICE) == 100
    lines = [
        {**SUPPORT, "serviceType": LONG_SERVICE},
        {**SUPPORT, "serviceType": "Director's review", "description": "Quarterly review"},
        {**SUPPORT, "serviceType": "Client’s onboarding", "description": "Kick-off"},
    ]
    invoices = []
    for name in NAMES:
        org = world.onedesk.organization(name)
        invoice = world.open_invoice(org, lines)
        world.command(invoice["id"])
        synced(world, invoice["id"], "540.00")
        invoices.append(invoice)
    # Copy each again after a change: names must be matched, never duplicated.
    for invoice in invoices:
        edit_and_reopen(world, invoice["id"], [{**line, "hours": 1} for line in lines])
        world.command(invoice["id"])
        synced(world, invoice["id"], "360.00")
    for name in NAMES:
        assert len(world.qbo.named("Customer", "DisplayName", name)) == 1, name
    for service in (LONG_SERVICE, "Director's review", "Client’s onboarding"):
        assert len(world.qbo.named("Item", "Name", service)) == 1, service


def test_a_colon_in_the_customer_name_is_refused_and_nothing_is_created(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("ACME: Consulting")
    invoice = world.open_invoice(org, [SUPPORT])
    before_customers = len(world.qbo.entities("Customer"))
    world.command(invoice["id"])
    record = wait_for(
        lambda: (r := world.onedesk.record(invoice["id"]))["syncMessage"] and r,
        what="refusal shown in OneDesk",
    )
    assert record["syncMessage"]["level"] == "error"
    assert "colon" in record["syncMessage"]["text"]
    assert record["externalReferences"] == {}
    assert len(world.qbo.entities("Customer")) == before_customers
    assert world.qbo.entities("Invoice") == []


def test_a_draft_is_refused_with_its_reason(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Draft Only E2E")
    invoice = world.onedesk.invoice(org, [SUPPORT])
    world.command(invoice["id"])
    record = wait_for(lambda: (r := world.onedesk.record(invoice["id"]))["syncMessage"] and r, what="refusal")
    assert "only Open invoices can be copied" in record["syncMessage"]["text"]
    assert world.qbo.entities("Invoice") == []


MONEY_LINES = [
    {"kind": "time", "description": "Fractional", "serviceType": "Support", "hours": 1.333, "rate": 75},
    {"kind": "time", "description": "Tiny", "serviceType": "Support", "hours": 0.5, "rate": 0.25},
    {"kind": "custom", "description": "Setup fee", "amount": 50},
    {"kind": "discount", "description": "Loyalty discount", "amount": 10},
]


def test_money_us_fractional_hours_discount_and_tax_match_to_the_cent(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Money US E2E")
    lines = [*MONEY_LINES, {"kind": "tax", "description": "Sales tax 8.25%", "taxRatePercent": 8.25}]
    invoice = world.open_invoice(org, lines)
    world.command(invoice["id"])
    total = str(world.onedesk.record(invoice["id"])["total"])
    qbo_invoice = synced(world, invoice["id"], total)
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(total)
    assert Decimal(str(qbo_invoice["TxnTaxDetail"]["TotalTax"])) > 0


def test_money_canada_with_gst_matches_to_the_cent(ca_world: World) -> None:
    world = ca_world
    org = world.onedesk.organization("Money CA E2E")
    lines = [*MONEY_LINES, {"kind": "tax", "description": "GST 5%", "taxRatePercent": 5}]
    invoice = world.open_invoice(org, lines, currency="CAD")
    world.command(invoice["id"])
    total = str(world.onedesk.record(invoice["id"])["total"])
    qbo_invoice = synced(world, invoice["id"], total)
    assert qbo_invoice["GlobalTaxCalculation"] == "TaxExcluded"
    sales = [line for line in qbo_invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert all(
        line["SalesItemLineDetail"]["TaxCodeRef"]["value"] == world.settings["tax_code_id"] for line in sales
    )


def _command_body(world: World, invoice_id: str) -> str:
    return json.dumps(
        {
            "tenant_id": world.tenant.tenant_id,
            "invoice_id": invoice_id,
            "action": "copy",
            "request_id": "crash-test",
            "requested_at": "2026-11-26T12:00:00+00:00",
            "source": "api",
        }
    )


def test_crash_after_qbo_accepted_the_create_still_gives_one_linked_invoice(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Crashing E2E")
    invoice = world.open_invoice(org, [SUPPORT])
    # QBO performs the create, then every answer is lost (each retry is replayed, then lost again):
    # the invocation fails with the pending link written and the QBO invoice created.
    world.qbo.control(
        "POST",
        "/faults",
        {
            "method": "POST",
            "path_regex": "/invoice$",
            "realmId": world.qbo.realm_id,
            "status": 503,
            "count": 50,
            "after_commit": True,
        },
    )
    event = sqs_event(world.stack, "InvoiceCommandsQueue", [_command_body(world, invoice["id"])])
    try:
        first = world.stack.runner.invoke("CopyInvoiceFunction", event)
    finally:
        world.qbo.control("DELETE", "/faults")
    # Every record of the batch failed: all are answered as failures and SQS delivers them again.
    assert first.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert len(world.qbo.entities("Invoice")) == 1
    assert world.onedesk.record(invoice["id"])["externalReferences"] == {}

    redelivery = sqs_event(world.stack, "InvoiceCommandsQueue", [_command_body(world, invoice["id"])], 2)
    second = world.stack.runner.invoke("CopyInvoiceFunction", redelivery)
    assert second.payload == {"batchItemFailures": []}
    (qbo_invoice,) = world.qbo.entities("Invoice")
    assert world.onedesk.record(invoice["id"])["externalReferences"]["qbo"]["invoiceId"] == qbo_invoice["Id"]


def test_a_command_violating_the_schema_goes_to_the_dlq_with_its_reason(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Schema E2E")
    invoice = world.open_invoice(org, [SUPPORT])
    bad = json.dumps({"tenant_id": world.tenant.tenant_id, "invoice_id": invoice["id"], "action": "refund"})
    event = sqs_event(world.stack, "InvoiceCommandsQueue", [bad, _command_body(world, invoice["id"])])
    dlq_before = queue_depth(world.stack, "InvoiceCommandsDLQ")

    result = world.stack.runner.invoke("CopyInvoiceFunction", event)

    assert result.payload == {"batchItemFailures": []}  # rejected to the DLQ, the rest proceeded
    assert world.onedesk.record(invoice["id"])["externalReferences"]["qbo"]
    assert queue_depth(world.stack, "InvoiceCommandsDLQ") == dlq_before + 1
    messages = sqs(world.stack).receive_message(
        QueueUrl=world.stack.provisioned.ref("InvoiceCommandsDLQ"),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )["Messages"]
    (rejected,) = [m for m in messages if m["Body"] == bad]
    reason = rejected["MessageAttributes"]["error_reason"]["StringValue"]
    assert "action" in reason and "request_id" in reason
