"""What happens to a copied invoice afterwards, on the whole local stack, in a US company (custom
transaction numbers: the OneDesk number is the DocNumber) and a Canadian one (QBO numbers invoices):

- deleted or voided in QBO: the next copy creates one new QBO invoice and relinks it;
- edited in QBO: a conflict, shown on the OneDesk invoice and the settings page, decided by the admin;
- messages: names differing only in capitals, stale messages replaced, "already up to date";
- disconnect and plan: the poller pauses, a send that waited needs the admin's confirmation, a plan below
  Premium refuses the command for good.

In every copied case QBO's TotalAmt equals OneDesk's total to the cent.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from local.operator import signed_link
from qbo_sync.ports.store import InvoiceLink, QboGone
from qbo_sync.usecases.copy_invoice import CONFLICT_MESSAGE
from tests.e2e.conftest import SUPPORT, TRAINING, World, wait_for

US_REALMS: set[str] = set()


@pytest.fixture(params=["us_world", "ca_world"])
def world(request: pytest.FixtureRequest) -> World:
    chosen: World = request.getfixturevalue(request.param)
    if request.param == "us_world":
        US_REALMS.add(chosen.qbo.realm_id)
    return chosen


def is_us(world: World) -> bool:
    return world.qbo.realm_id in US_REALMS


def lines(world: World, hours: float = 1.5) -> list[dict[str, Any]]:
    tax = (
        {"kind": "tax", "description": "Sales tax 8.25%", "taxRatePercent": 8.25}
        if is_us(world)
        else {"kind": "tax", "description": "GST 5%", "taxRatePercent": 5}
    )
    return [{**SUPPORT, "hours": hours}, TRAINING, tax]


def new_invoice(world: World, name: str, hours: float = 1.5, **org: Any) -> dict[str, Any]:
    organization = world.onedesk.organization(f"{name} {uuid.uuid4().hex[:4]}", **org)
    currency = {} if is_us(world) else {"currency": "CAD"}
    return world.open_invoice(organization, lines(world, hours), **currency)


def total(world: World, invoice_id: str) -> Decimal:
    return Decimal(str(world.onedesk.record(invoice_id)["total"]))


def qbo_invoice(world: World, qbo_id: str) -> dict[str, Any]:
    return world.qbo.entity("Invoice", qbo_id)


def link(world: World, invoice_id: str) -> InvoiceLink | None:
    from qbo_sync import wiring  # noqa: PLC0415 - the operator reads what the product stored

    return wiring.mapping_store().invoice_link(world.tenant.tenant_id, world.qbo.realm_id, invoice_id)


def message(world: World, invoice_id: str) -> dict[str, Any]:
    return world.onedesk.record(invoice_id)["syncMessage"] or {}


def copied(world: World, invoice_id: str, containing: str = "QuickBooks Online as") -> dict[str, Any]:
    """Waits until OneDesk says the invoice is in QBO with OneDesk's total; QBO's invoice."""

    def done() -> dict[str, Any] | None:
        record = world.onedesk.record(invoice_id)
        reference = record["externalReferences"].get("qbo")
        if not reference or containing not in (record["syncMessage"] or {}).get("text", ""):
            return None
        found = qbo_invoice(world, reference["invoiceId"])
        return found if Decimal(str(found["TotalAmt"])) == Decimal(str(record["total"])) else None

    return wait_for(done, what=f"invoice {invoice_id} in QBO with OneDesk's total ({containing!r})")


def copy(world: World, invoice_id: str, containing: str = "QuickBooks Online as") -> dict[str, Any]:
    world.command(invoice_id)
    return copied(world, invoice_id, containing)


def live_invoices_of(world: World, customer_id: str) -> list[dict[str, Any]]:
    return [
        i
        for i in world.qbo.entities("Invoice")
        if i["CustomerRef"]["value"] == customer_id and Decimal(str(i["TotalAmt"])) != 0
    ]


def writes(world: World, since: int) -> list[dict[str, Any]]:
    return [r for r in world.qbo.data_requests(since) if r["method"] == "POST" and "/query" not in r["path"]]


def flush(world: World) -> None:
    world.qbo.control("POST", "/webhooks/flush")


# ------------------------------------------------------------------------------------------ deleted / voided


def test_an_invoice_deleted_in_qbo_is_created_again_exactly_once_on_the_next_copy(world: World) -> None:
    invoice = new_invoice(world, "Deleted Inc")
    first = copy(world, invoice["id"])
    world.qbo.data(
        "POST", "invoice", {"Id": first["Id"], "SyncToken": first["SyncToken"]}, operation="delete"
    )
    flush(world)  # QBO's webhook: the link is marked, OneDesk is told
    wait_for(
        lambda: (found := link(world, invoice["id"])) and found.qbo_gone is QboGone.DELETED, what="marked"
    )
    assert "deleted in QuickBooks Online" in message(world, invoice["id"])["text"]
    before = world.qbo.last_seq()

    recreated = copy(world, invoice["id"], "as new invoice")
    (create,) = writes(world, before)  # no update of the deleted one was even tried
    for _ in range(2):  # the admin clicks Copy twice more
        world.command(invoice["id"])
    copied(world, invoice["id"], "Already up to date")

    assert recreated["Id"] != first["Id"]
    assert create["path"].endswith("/invoice") and create["status"] == 200
    assert [i["Id"] for i in live_invoices_of(world, first["CustomerRef"]["value"])] == [recreated["Id"]]
    assert Decimal(str(recreated["TotalAmt"])) == total(world, invoice["id"])
    found = link(world, invoice["id"])
    assert found is not None and (found.generation, found.qbo_invoice_id) == (1, recreated["Id"])


def test_a_voided_invoice_stays_voided_and_a_new_one_is_linked(world: World) -> None:
    invoice = new_invoice(world, "Voided Ltd")
    first = copy(world, invoice["id"])
    world.qbo.data("POST", "invoice", {"Id": first["Id"], "SyncToken": first["SyncToken"]}, operation="void")
    # No webhook needed: an explicit copy reads the invoice once and sees it voided.
    new = copy(world, invoice["id"], "as new invoice")

    voided = qbo_invoice(world, first["Id"])
    assert Decimal(str(voided["TotalAmt"])) == 0 and voided["PrivateNote"].startswith("Voided")
    assert Decimal(str(new["TotalAmt"])) == total(world, invoice["id"])
    if is_us(world):  # custom transaction numbers: the OneDesk number, on both
        assert new["DocNumber"] == voided["DocNumber"] == invoice["number"]
    else:  # QBO numbers them
        assert new["DocNumber"] != voided["DocNumber"]
    assert world.onedesk.record(invoice["id"])["externalReferences"]["qbo"]["invoiceId"] == new["Id"]


# ------------------------------------------------------------------------------------------ conflicts


def bookkeeper_edits_the_first_line(world: World, qbo_id: str) -> dict[str, Any]:
    current = qbo_invoice(world, qbo_id)
    kept = [line for line in current["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    first = kept[0]
    first["SalesItemLineDetail"]["Qty"] = 1
    first["Amount"] = first["SalesItemLineDetail"]["UnitPrice"]
    first["Description"] = "Fix login page (agreed flat hour)"
    body = {"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True, "Line": kept}
    return dict(world.qbo.data("POST", "invoice", body)["Invoice"])


def edit_in_onedesk(world: World, invoice_id: str, hours: float) -> None:
    world.onedesk.move(invoice_id, "Draft")
    world.onedesk.edit(invoice_id, lines=lines(world, hours))
    world.onedesk.move(invoice_id, "Open")


def settings_page(world: World) -> str:
    page = world.admin.open(signed_link(world.api, world.tenant))
    assert page.status_code == 200
    return page.text


@pytest.mark.parametrize("decision", ["overwrite", "keep"])
def test_an_edit_in_qbo_is_never_overwritten_silently(world: World, decision: str) -> None:
    invoice = new_invoice(world, "Conflicted Co")
    first = copy(world, invoice["id"])
    theirs = bookkeeper_edits_the_first_line(world, first["Id"])
    edit_in_onedesk(world, invoice["id"], hours=2)
    before = world.qbo.last_seq()

    world.command(invoice["id"])
    wait_for(lambda: message(world, invoice["id"]).get("text") == CONFLICT_MESSAGE, what="conflict shown")

    assert qbo_invoice(world, first["Id"])["SyncToken"] == theirs["SyncToken"]  # not overwritten
    assert all(r.get("fault_code") == "5010" for r in writes(world, before))  # the one stale update
    page = settings_page(world)
    assert "Invoices changed in QuickBooks Online" in page and invoice["number"] in page
    world.admin.submit(action="/qbo/conflicts", decision=decision)
    assert world.admin.page is not None and "/qbo/settings" in world.admin.page.url

    if decision == "overwrite":
        now = copied(world, invoice["id"])
        assert now["Id"] == first["Id"]
        assert Decimal(str(now["TotalAmt"])) == total(world, invoice["id"])
        assert "Fix login page (agreed flat hour)" not in str(now["Line"])
    else:
        wait_for(lambda: "was kept by an admin" in message(world, invoice["id"]).get("text", ""), what="kept")
        assert qbo_invoice(world, first["Id"])["SyncToken"] == theirs["SyncToken"]
        world.command(invoice["id"])  # the same OneDesk content: no new conflict
        wait_for(
            lambda: "Already up to date" in message(world, invoice["id"]).get("text", ""), what="checked"
        )
        assert "Invoices changed in QuickBooks Online" not in settings_page(world)
        edit_in_onedesk(world, invoice["id"], hours=3)  # a later OneDesk change is copied over it
        now = copy(world, invoice["id"])
        assert Decimal(str(now["TotalAmt"])) == total(world, invoice["id"])
    assert "Invoices changed in QuickBooks Online" not in settings_page(world)


# ------------------------------------------------------------------------------------------ messages


def test_a_customer_name_differing_only_in_capitals_is_explained(world: World) -> None:
    name = f"Capital Letters {uuid.uuid4().hex[:4]}"
    world.qbo.data("POST", "customer", {"DisplayName": name.upper()})
    organization = world.onedesk.organization(name)
    currency = {} if is_us(world) else {"currency": "CAD"}
    invoice = world.open_invoice(organization, lines(world), **currency)

    world.command(invoice["id"])

    shown = wait_for(
        lambda: message(world, invoice["id"]).get("level") == "error" and message(world, invoice["id"])
    )
    assert f"named {name.upper()!r}, which differs from {name!r} only in capitals" in shown["text"]
    assert world.qbo.named("Customer", "DisplayName", name) == []


def test_a_stale_message_is_replaced_when_the_invoice_is_open_again(world: World) -> None:
    invoice = new_invoice(world, "Stale Messages")
    first = copy(world, invoice["id"])
    amount = str(first["TotalAmt"])
    payment = world.qbo.data(
        "POST",
        "payment",
        {
            "CustomerRef": first["CustomerRef"],
            "TotalAmt": amount,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Invoice"}]}],
        },
    )["Payment"]
    flush(world)
    wait_for(lambda: world.onedesk.record(invoice["id"])["status"] == "Paid", what="paid in OneDesk")
    world.command(invoice["id"])  # copy again while Paid: refused, with the reason
    wait_for(lambda: "is Paid" in message(world, invoice["id"]).get("text", ""), what="refusal")

    world.qbo.data(
        "POST", "payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}, operation="delete"
    )
    flush(world)
    wait_for(lambda: world.onedesk.record(invoice["id"])["status"] == "Open", what="open again")
    again = copy(world, invoice["id"], "Already up to date")

    assert message(world, invoice["id"])["level"] == "info"
    assert again["Id"] == first["Id"]


def test_an_unchanged_explicit_copy_reads_once_and_says_already_up_to_date(
    world: World, quiet_webhooks: None
) -> None:
    invoice = new_invoice(world, "Up To Date")
    first = copy(world, invoice["id"])
    before = world.qbo.last_seq()

    copy(world, invoice["id"], "Already up to date")

    (read,) = world.qbo.data_requests(before)
    assert (read["method"], read["path"].rsplit("/", 1)[-1]) == ("GET", first["Id"])


# ------------------------------------------------------------------------------------------ disconnect, plan


def test_while_disconnected_nothing_is_polled_and_sends_that_waited_need_confirmation(world: World) -> None:
    settings_page(world)
    world.admin.disconnect()
    clicked = new_invoice(world, "Clicked Send", email="ap@clicked.test")
    marked = new_invoice(world, "Marked Sent", email="ap@marked.test")
    world.onedesk.move(marked["id"], "Sent")
    world.command(clicked["id"], "send")
    wait_for(lambda: "Waiting to copy" in message(world, clicked["id"]).get("text", ""), what="parked")

    polled = world.stack.runner.fire_schedule("OneDeskPollerFunction")
    assert polled.payload["tenants_paused"] >= 1
    assert message(world, marked["id"]) == {}  # no "waiting" note from the poller

    world.admin.connect(world.api, world.tenant, world.qbo.realm_id)  # reconnect: copies resume
    world.stack.runner.fire_schedule("OneDeskPollerFunction")  # the change made meanwhile is picked up
    copied(world, clicked["id"])
    copied(world, marked["id"], "not emailed yet")
    assert world.qbo.sends() == []
    page = settings_page(world)
    assert "Sends waiting for your confirmation" in page
    assert clicked["number"] in page and marked["number"] in page

    world.admin.submit(action="/qbo/parked-sends", invoice_id=clicked["id"], decision="send")
    world.admin.open(signed_link(world.api, world.tenant))
    world.admin.submit(action="/qbo/parked-sends", invoice_id=marked["id"], decision="drop")

    (sent,) = wait_for(world.qbo.sends, what="the confirmed send")
    assert sent["to"] == "ap@clicked.test"
    wait_for(lambda: "chose not to email" in message(world, marked["id"]).get("text", ""), what="not sent")
    assert "Sends waiting for your confirmation" not in settings_page(world)
    # The declined invoice is still Sent and just changed: the poller sees it again, and must not email it.
    world.stack.runner.fire_schedule("OneDeskPollerFunction")
    copy(
        world, marked["id"], "Already up to date"
    )  # queued after the poller's send of it: runs after  # and a copy after it is still just a copy
    assert world.qbo.sends() == [sent]


def test_a_plan_below_premium_refuses_each_command_for_good(world: World) -> None:
    world.onedesk.set_plan("Growth")
    invoice = new_invoice(world, "Small Plan")

    world.command(invoice["id"])

    shown = wait_for(
        lambda: message(world, invoice["id"]).get("level") == "error" and message(world, invoice["id"])
    )
    assert "part of OneDesk's Premium plan and higher; this account is on the Growth plan" in shown["text"]
    assert world.qbo.entities("Invoice") == []
    from qbo_sync import wiring  # noqa: PLC0415

    assert wiring.parked_work().count_parked(world.tenant.tenant_id) == 0
