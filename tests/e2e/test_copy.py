"""[copy] acceptance on the whole local stack, counting requests in the QBO emulator's log."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import World, wait_for

SUPPORT = {"kind": "time", "description": "Fix login page", "serviceType": "Support", "hours": 1.5, "rate": 120}
TRAINING = {"kind": "time", "description": "Onboarding call", "serviceType": "Training", "hours": 1.333, "rate": 75}


def _copied(world: World, invoice_id: str) -> dict:
    return wait_for(
        lambda: (record := world.onedesk.record(invoice_id))["externalReferences"].get("qbo") and record,
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
