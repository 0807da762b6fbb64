"""[payments] acceptance on the whole local stack: payments recorded in QBO flow back to OneDesk.

A bookkeeper acts in QBO through the emulator's data API; the emulator signs and delivers webhooks to
the product's POST /qbo/webhooks; sync_payments writes the absolute payment state to OneDesk; the
reconcile schedule (fired by hand) catches up through CDC when webhooks are lost.

"OneDesk equal to QBO", for every mapped invoice of the test's world:
- amountPaid == TotalAmt - Balance and balance == Balance (Decimal);
- status Paid when Balance == 0 and TotalAmt > 0, PartiallyPaid when something is paid, else the
  status the invoice had before any payment (Open, or Sent);
- lastPaymentDate == the latest TxnDate of the payments linked to the invoice, None when nothing is paid;
- a voided QBO invoice leaves OneDesk's amounts as they were and shows a sync message saying "voided".
Assertions only ever look at the test's own realm and OneDesk account: webhooks are app-wide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.e2e.conftest import World, wait_for

WAIT = 90.0  # other suites share these two cores: be patient, the values stay exact
ZERO = Decimal("0.00")


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def work(rate: str, hours: str = "1") -> dict[str, Any]:
    """A OneDesk time line of ``hours`` x ``rate`` (exact: rates with two decimals, whole hours)."""
    return {
        "kind": "time",
        "description": f"Consulting at {rate}",
        "serviceType": "Support",
        "hours": float(hours),
        "rate": float(rate),
    }


# ------------------------------------------------------------------------------------------ copying
@dataclass(frozen=True)
class Mapped:
    """One OneDesk invoice copied to QBO."""

    onedesk_id: str
    qbo_id: str
    customer_id: str
    item_id: str
    total: Decimal  # QBO TotalAmt at copy time
    unpaid_status: str  # what OneDesk showed before any payment: Open, or Sent


def copy_invoices(
    world: World,
    customer: str,
    rates: list[str],
    *,
    tax_percent: int | None = None,
    status: str = "Open",
    idle: bool = False,
) -> list[Mapped]:
    """One OneDesk invoice per rate (1 hour each, plus a tax line when asked) for one new organization,
    moved to ``status``, all copied; returns them once every copy is referenced in OneDesk.

    ``idle``: also wait until the product is done with the copy's own webhooks (Invoice created...). Read
    after a payment, they bring OneDesk right through the invoice before the payment's own event is read,
    so a test that then edits or removes the payment would race with them (see the late-events test)."""
    org = world.onedesk.organization(customer)
    tax = [{"kind": "tax", "description": f"Tax {tax_percent}%", "taxRatePercent": tax_percent}]
    opened = [world.open_invoice(org, [work(rate), *(tax if tax_percent else [])]) for rate in rates]
    if status != "Open":
        opened = [world.onedesk.move(invoice["id"], status) for invoice in opened]
    for invoice in opened:
        world.command(invoice["id"])
    records = [
        wait_for(
            lambda invoice_id=invoice["id"]: (
                (record := world.onedesk.record(invoice_id))["externalReferences"].get("qbo") and record
            ),
            timeout=WAIT,
            what=f"invoice {invoice['id']} copied",
        )
        for invoice in opened
    ]
    if idle:
        barrier(world)
    in_qbo = {entity["Id"]: entity for entity in world.qbo.entities("Invoice")}
    mapped = []
    for record in records:
        assert record["status"] == status, record
        qbo_invoice = in_qbo[record["externalReferences"]["qbo"]["invoiceId"]]
        (line, *_) = [line for line in qbo_invoice["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
        mapped.append(
            Mapped(
                onedesk_id=record["id"],
                qbo_id=qbo_invoice["Id"],
                customer_id=qbo_invoice["CustomerRef"]["value"],
                item_id=line["SalesItemLineDetail"]["ItemRef"]["value"],
                total=money(qbo_invoice["TotalAmt"]),
                unpaid_status=record["status"],
            )
        )
    return mapped


# ------------------------------------------------------------------------------------------ the bookkeeper
def applied(txn_id: str, amount: str, txn_type: str = "Invoice") -> dict[str, Any]:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}


def pay(world: World, customer_id: str, total: str, *lines: dict[str, Any]) -> dict[str, Any]:
    body = {"CustomerRef": {"value": customer_id}, "TotalAmt": total, "Line": list(lines)}
    return dict(world.qbo.data("POST", "payment", body)["Payment"])


def edit_payment(world: World, payment: dict[str, Any], total: str, *lines: dict[str, Any]) -> dict[str, Any]:
    """Payment lines are all-or-nothing: the full new set replaces the old one."""
    body = {
        "Id": payment["Id"],
        "SyncToken": payment["SyncToken"],
        "sparse": True,
        "TotalAmt": total,
        "Line": list(lines),
    }
    return dict(world.qbo.data("POST", "payment", body)["Payment"])


def delete_payment(world: World, payment: dict[str, Any]) -> None:
    stub = world.qbo.data(
        "POST", "payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}, operation="delete"
    )
    assert stub["Payment"]["status"] == "Deleted"


def void_payment(world: World, payment: dict[str, Any]) -> None:
    body = {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True}
    voided = world.qbo.data("POST", "payment", body, operation="update", include="void")["Payment"]
    assert money(voided["TotalAmt"]) == ZERO


def void_invoice(world: World, invoice: Mapped) -> None:
    (current,) = [i for i in world.qbo.entities("Invoice") if i["Id"] == invoice.qbo_id]
    body = {"Id": invoice.qbo_id, "SyncToken": current["SyncToken"]}
    voided = world.qbo.data("POST", "invoice", body, operation="void")["Invoice"]
    assert money(voided["TotalAmt"]) == ZERO


def credit_memo(world: World, invoice: Mapped, amount: str) -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": invoice.item_id}},
    }
    body = {"CustomerRef": {"value": invoice.customer_id}, "Line": [line]}
    memo = world.qbo.data("POST", "creditmemo", body)["CreditMemo"]
    assert money(memo["Balance"]) == money(amount)
    return dict(memo)


def annotate_credit_memo(world: World, memo_id: str, note: str) -> None:
    """A bookkeeper's note on a credit memo (sparse update): QBO announces a CreditMemo update."""
    (current,) = [m for m in world.qbo.entities("CreditMemo") if m["Id"] == memo_id]
    body = {"Id": memo_id, "SyncToken": current["SyncToken"], "sparse": True, "PrivateNote": note}
    world.qbo.data("POST", "creditmemo", body)


def remove_credit_memos(world: World) -> None:
    """Unapply and delete every credit memo of the realm (payments that use one are deleted first)."""
    for payment in world.qbo.entities("Payment"):
        links = [link for line in payment.get("Line", []) for link in line.get("LinkedTxn", [])]
        if any(link["TxnType"] == "CreditMemo" for link in links):
            delete_payment(world, payment)
    for memo in world.qbo.entities("CreditMemo"):
        body = {"Id": memo["Id"], "SyncToken": memo["SyncToken"]}
        world.qbo.data("POST", "creditmemo", body, operation="delete")


def flush(world: World) -> None:
    world.qbo.control("POST", "/webhooks/flush")


def realm_seq(world: World, since: int = 0) -> int:
    """The emulator's last request-log entry for this realm (the product reading QBO moves it)."""
    return max((entry["seq"] for entry in world.qbo.requests_log(since)), default=since)


# ------------------------------------------------------------------------------------------ comparing
def onedesk_state(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "amountPaid": money(record["amountPaid"]),
        "balance": money(record["balance"]),
        "status": record["status"],
        "lastPaymentDate": record.get("lastPaymentDate"),
    }


def state(paid: str, balance: str, status: str, last: str | None) -> dict[str, Any]:
    return {"amountPaid": money(paid), "balance": money(balance), "status": status, "lastPaymentDate": last}


def is_voided(qbo_invoice: dict[str, Any]) -> bool:
    note = str(qbo_invoice.get("PrivateNote", ""))
    return money(qbo_invoice["TotalAmt"]) == ZERO and note.startswith("Voided")


def qbo_state(invoice: Mapped, qbo_invoice: dict[str, Any], payment_dates: dict[str, str]) -> dict[str, Any]:
    total, balance = money(qbo_invoice["TotalAmt"]), money(qbo_invoice["Balance"])
    paid = total - balance
    if balance == ZERO and total > ZERO:
        status = "Paid"
    elif paid > ZERO:
        status = "PartiallyPaid"
    else:
        status = invoice.unpaid_status
    linked = [
        payment_dates[link["TxnId"]]
        for link in qbo_invoice.get("LinkedTxn", [])
        if link["TxnType"] == "Payment" and link["TxnId"] in payment_dates
    ]
    return {
        "amountPaid": paid,
        "balance": balance,
        "status": status,
        "lastPaymentDate": max(linked) if paid > ZERO and linked else None,
    }


def differences(world: World, invoices: list[Mapped], before_void: dict[str, dict[str, Any]]) -> list[str]:
    """Every way OneDesk differs from QBO for these invoices (empty = equal)."""
    in_qbo = {entity["Id"]: entity for entity in world.qbo.entities("Invoice")}
    payment_dates = {p["Id"]: p["TxnDate"] for p in world.qbo.entities("Payment")}
    problems = []
    for invoice in invoices:
        record = world.onedesk.record(invoice.onedesk_id)
        got, qbo_invoice = onedesk_state(record), in_qbo[invoice.qbo_id]
        if is_voided(qbo_invoice):
            want = before_void[invoice.onedesk_id]
            message = (record.get("syncMessage") or {}).get("text", "")
            if "voided" not in message.lower():
                problems.append(f"{invoice.onedesk_id} (QBO {invoice.qbo_id}) voided; message {message!r}")
        else:
            want = qbo_state(invoice, qbo_invoice, payment_dates)
        if got != want:
            problems.append(f"{invoice.onedesk_id} (QBO {invoice.qbo_id}): OneDesk {got} != expected {want}")
    return problems


IDLE = 12.0  # no QBO read for the realm, no queue movement, no OneDesk change: nothing will come


def settle(
    world: World, invoices: list[Mapped], before_void: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Wait until OneDesk equals QBO for every invoice; returns the OneDesk states by invoice id.

    Gives up after WAIT seconds, or earlier once the product has stopped working on this realm for IDLE
    seconds (no QBO read, no queue movement, no OneDesk change) while OneDesk is still wrong."""
    seen: list[str] = []
    progress: dict[str, Any] = {"mark": None, "at": time.monotonic(), "seq": 0}

    def equal() -> bool:
        flush(world)
        seen[:] = differences(world, invoices, before_void or {})
        if not seen:
            return True
        progress["seq"] = realm_seq(world, progress["seq"])
        mark = (progress["seq"], queue_depth(world.stack), tuple(seen))
        if mark != progress["mark"]:
            progress.update(mark=mark, at=time.monotonic())
        elif time.monotonic() - progress["at"] > IDLE:
            raise AssertionError(f"the product stopped working on the realm for {IDLE}s:\n" + "\n".join(seen))
        return False

    try:
        wait_for(equal, timeout=WAIT, what="OneDesk equal to QBO")
    except AssertionError as failure:
        if seen and "stopped working" not in str(failure):
            raise AssertionError(f"{failure}:\n" + "\n".join(seen)) from None
        raise
    return {i.onedesk_id: onedesk_state(world.onedesk.record(i.onedesk_id)) for i in invoices}


def today(world: World) -> str:
    """The emulator's date, which payments take as TxnDate when none is given."""
    payments = world.qbo.entities("Payment")
    assert payments, "no payment in this realm yet"
    return str(max(p["TxnDate"] for p in payments))


# ------------------------------------------------------------------------------------------ the emulator app
@dataclass
class Captured:
    body: bytes
    signature: str | None

    def events(self) -> list[dict[str, Any]]:
        document = json.loads(self.body)
        if isinstance(document, list):
            return document
        return [  # legacy: one pseudo event per entity, enough to count and to find the realm
            {"intuitaccountid": notification["realmId"], **entity}
            for notification in document.get("eventNotifications", [])
            for entity in notification["dataChangeEvent"]["entities"]
        ]


class _CaptureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.captured: list[Captured] = []


class _Receiver(BaseHTTPRequestHandler):
    """Answers 200 to every POST and keeps its raw body and signature."""

    server: _CaptureServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.captured.append(Captured(body, self.headers.get("intuit-signature")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class EmulatorApp:
    """Changes the emulator's app registration (app-wide: shared by every world of the session) and puts
    it back when the test ends, whatever happens."""

    base_url: str
    original: dict[str, Any]
    receiver: _CaptureServer | None = None

    def update(self, **changes: Any) -> None:
        response = requests.put(f"{self.base_url}/_sandbox/app", json=changes, timeout=10)
        assert response.status_code == 200, response.text

    def flush(self) -> None:
        requests.post(f"{self.base_url}/_sandbox/webhooks/flush", timeout=30).raise_for_status()

    def capture(self) -> list[Captured]:
        """Deliver every webhook to a receiver of ours instead of the product; returns its list."""
        self.flush()  # what is pending still goes to the product
        self.receiver = _CaptureServer()
        threading.Thread(target=self.receiver.serve_forever, daemon=True).start()
        self.update(webhook_url=f"http://127.0.0.1:{self.receiver.server_address[1]}/capture")
        return self.receiver.captured

    def restore(self) -> None:
        if self.receiver is not None:
            self.flush()  # a delivery keeps its URL: send what is pending while we still answer
        keys = ("webhook_url", "webhooks_enabled", "webhook_format", "webhook_content_type")
        self.update(**{key: self.original[key] for key in keys})
        if self.receiver is not None:
            self.flush()
            self.receiver.shutdown()
            self.receiver.server_close()
            self.receiver = None


@pytest.fixture
def emulator_app(stack: LocalStack) -> Iterator[EmulatorApp]:
    base_url = stack.components["qbo"].base_url
    app = EmulatorApp(base_url, requests.get(f"{base_url}/_sandbox/app", timeout=10).json())
    try:
        yield app
    finally:
        app.restore()


@pytest.fixture
def credit_world(us_world: World) -> Iterator[World]:
    """A US world whose credit memos are unapplied and deleted when the test ends: an applied credit memo
    left in one realm must not change what the reconcile tests see (reconcile reads every realm)."""
    try:
        yield us_world
    finally:
        remove_credit_memos(us_world)


def post_webhook(
    world: World, body: bytes, signature: str | None, session: requests.Session | None = None
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["intuit-signature"] = signature
    return (session or requests).post(f"{world.api}/qbo/webhooks", data=body, headers=headers, timeout=30)


def intuit_signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def event_body(realm_id: str, entity: str, entity_id: str, operation: str = "updated") -> bytes:
    """A CloudEvents batch of one event, as Intuit sends it (fresh id: never a FIFO duplicate)."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.e2e",
        "type": f"qbo.{entity.lower()}.{operation}.v1",
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "intuitentityid": entity_id,
        "intuitaccountid": realm_id,
        "data": {},
    }
    return json.dumps([event], separators=(",", ":")).encode()


def queue_depth(stack: LocalStack) -> int:
    """Messages on qbo-changes.fifo, waiting or in flight (every realm of the session)."""
    attributes = stack.provisioned.client("sqs").get_queue_attributes(
        QueueUrl=stack.provisioned.ref("QboChangesQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def barrier(world: World) -> int:
    """Wait until the product has processed every change queued so far for this realm: flush the
    emulator's webhooks, then send a signed event of our own down the realm's FIFO group (the deletion of a
    payment that never existed, which sync_payments looks up in QBO) and wait for that lookup. Returns the
    realm's request-log seq at that point."""
    flush(world)
    since = realm_seq(world)
    payment_id = str(random.randrange(10**8, 10**9))
    body = event_body(world.qbo.realm_id, "Payment", payment_id, "deleted")
    verifier = world.qbo.control("GET", "/app")["verifier_token"]
    assert post_webhook(world, body, intuit_signature(verifier, body)).status_code == 200
    wait_for(
        lambda: [e for e in world.qbo.requests_log(since) if e["path"].endswith(f"/payment/{payment_id}")],
        timeout=WAIT,
        what="the product done with the realm's queued changes",
    )
    return realm_seq(world, since)


# ------------------------------------------------------------------------------------------ the sequences
def test_one_payment_across_two_invoices(us_world: World) -> None:
    world = us_world
    first, second = copy_invoices(world, "Across Two LLC", ["100.00", "50.25"])
    assert (first.total, second.total) == (Decimal("100.00"), Decimal("50.25"))

    pay(world, first.customer_id, "130.25", applied(first.qbo_id, "100.00"), applied(second.qbo_id, "30.25"))

    states = settle(world, [first, second])
    day = today(world)
    assert states[first.onedesk_id] == state("100.00", "0.00", "Paid", day)
    assert states[second.onedesk_id] == state("30.25", "20.00", "PartiallyPaid", day)


def test_our_own_update_costs_one_qbo_request_and_a_payment_two(us_world: World) -> None:
    """The lean path with webhooks on: a changed re-copy is one QBO write, and QBO announcing that write
    back (an Invoice "updated" event) is recognised as ours, so nothing reads it; a payment's webhook then
    costs the Payment read and the Invoice read (the payment is read once, its date included)."""
    world = us_world
    (mapped,) = copy_invoices(world, "Lean Path LLC", ["100.00"], idle=True)
    invoice_id = mapped.onedesk_id

    since = realm_seq(world)
    world.onedesk.move(invoice_id, "Draft")
    world.onedesk.edit(invoice_id, lines=[work("120.00")])
    world.onedesk.move(invoice_id, "Open")
    world.command(invoice_id)
    wait_for(
        lambda: money(world.qbo.entity("Invoice", mapped.qbo_id)["TotalAmt"]) == Decimal("120.00"),
        timeout=WAIT,
        what="the re-copy in QBO",
    )
    done = barrier(world)
    product = [e for e in world.qbo.requests_log(since) if e["seq"] < done and "/v3/company/" in e["path"]]
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in product] == [("POST", "invoice")], product

    since = realm_seq(world)
    paid = pay(world, mapped.customer_id, "120.00", applied(mapped.qbo_id, "120.00"))
    states = settle(world, [mapped])
    assert states[invoice_id] == state("120.00", "0.00", "Paid", today(world))
    done = barrier(world)
    reads = [e for e in world.qbo.requests_log(since) if e["seq"] < done and e["method"] == "GET"]
    assert sorted(e["path"].rsplit("/", 2)[-2] for e in reads) == ["invoice", "payment"], reads
    assert any(e["path"].endswith(f"/payment/{paid['Id']}") for e in reads)


@pytest.mark.parametrize(
    ("country", "webhook_format"), [("US", "cloudevents"), ("CA", "cloudevents"), ("US", "legacy")]
)
def test_partial_then_full_payment(
    request: pytest.FixtureRequest, emulator_app: EmulatorApp, country: str, webhook_format: str
) -> None:
    """CA: GST 5 % on a 200.00 invoice, paid 80.00 then the remaining 130.00. Legacy: Intuit's older
    eventNotifications webhooks, still parsed for apps not yet switched to CloudEvents."""
    world: World = request.getfixturevalue(f"{country.lower()}_world")
    emulator_app.update(webhook_format=webhook_format)
    tax = 5 if country == "CA" else None
    (invoice,) = copy_invoices(world, f"Partial Then Full {country}", ["200.00"], tax_percent=tax)
    assert invoice.total == {"US": Decimal("200.00"), "CA": Decimal("210.00")}[country]
    rest = str(invoice.total - 80)

    pay(world, invoice.customer_id, "80.00", applied(invoice.qbo_id, "80.00"))
    states = settle(world, [invoice])
    day = today(world)
    assert states[invoice.onedesk_id] == state("80.00", rest, "PartiallyPaid", day)

    pay(world, invoice.customer_id, rest, applied(invoice.qbo_id, rest))
    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state(str(invoice.total), "0.00", "Paid", day)


def test_payment_edited_down(us_world: World) -> None:
    """Edited from 150.00 over two invoices down to 25.00 on the first only: the second, no longer in the
    payment at all, must go back to unpaid too."""
    world = us_world
    first, second = copy_invoices(world, "Edited Down Inc", ["100.00", "50.00"], idle=True)
    payment = pay(
        world, first.customer_id, "150.00", applied(first.qbo_id, "100.00"), applied(second.qbo_id, "50.00")
    )
    states = settle(world, [first, second])
    day = today(world)
    assert [states[i.onedesk_id]["status"] for i in (first, second)] == ["Paid", "Paid"]

    edit_payment(world, payment, "25.00", applied(first.qbo_id, "25.00"))

    states = settle(world, [first, second])
    assert states[first.onedesk_id] == state("25.00", "75.00", "PartiallyPaid", day)
    assert states[second.onedesk_id] == state("0.00", "50.00", "Open", None)


def test_payment_deleted(us_world: World) -> None:
    world = us_world
    (invoice,) = copy_invoices(world, "Deleted Payment Co", ["100.00"], idle=True)
    payment = pay(world, invoice.customer_id, "60.00", applied(invoice.qbo_id, "60.00"))
    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("60.00", "40.00", "PartiallyPaid", today(world))

    delete_payment(world, payment)

    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("0.00", "100.00", "Open", None)


def test_payment_voided(us_world: World) -> None:
    world = us_world
    first, second = copy_invoices(world, "Voided Payment Ltd", ["80.00", "40.00"], idle=True)
    payment = pay(
        world, first.customer_id, "120.00", applied(first.qbo_id, "80.00"), applied(second.qbo_id, "40.00")
    )
    states = settle(world, [first, second])
    assert [states[i.onedesk_id]["status"] for i in (first, second)] == ["Paid", "Paid"]

    void_payment(world, payment)

    states = settle(world, [first, second])
    assert states[first.onedesk_id] == state("0.00", "80.00", "Open", None)
    assert states[second.onedesk_id] == state("0.00", "40.00", "Open", None)


def test_invoice_voided(us_world: World) -> None:
    """QBO zeroes a voided invoice; OneDesk keeps its amounts and says why they differ."""
    world = us_world
    voided, kept = copy_invoices(world, "Voided Invoice GmbH", ["100.00", "70.00"])
    pay(world, kept.customer_id, "30.00", applied(kept.qbo_id, "30.00"))
    settle(world, [voided, kept])
    before = onedesk_state(world.onedesk.record(voided.onedesk_id))
    assert before == state("0.00", "100.00", "Open", None)

    void_invoice(world, voided)

    states = settle(world, [voided, kept], before_void={voided.onedesk_id: before})
    assert states[voided.onedesk_id] == state("0.00", "100.00", "Open", None)
    assert states[kept.onedesk_id] == state("30.00", "40.00", "PartiallyPaid", today(world))
    message = world.onedesk.record(voided.onedesk_id)["syncMessage"]
    assert message["level"] == "warning"
    assert "voided" in message["text"].lower()


def test_credit_memo_applied(credit_world: World) -> None:
    """A 30.00 credit memo and 50.00 of cash settle 80.00 of a 100.00 invoice (credit counts as paid);
    the bookkeeper then notes the memo, and the customer pays the remaining 20.00."""
    world = credit_world
    (invoice,) = copy_invoices(world, "Credit Memo SA", ["100.00"])
    memo = credit_memo(world, invoice, "30.00")

    pay(
        world,
        invoice.customer_id,
        "50.00",
        applied(invoice.qbo_id, "80.00"),
        applied(memo["Id"], "30.00", "CreditMemo"),
    )
    states = settle(world, [invoice])
    day = today(world)
    assert states[invoice.onedesk_id] == state("80.00", "20.00", "PartiallyPaid", day)
    (memo_now,) = [m for m in world.qbo.entities("CreditMemo") if m["Id"] == memo["Id"]]
    assert money(memo_now["Balance"]) == ZERO

    annotate_credit_memo(world, memo["Id"], "Goodwill credit for the outage")
    pay(world, invoice.customer_id, "20.00", applied(invoice.qbo_id, "20.00"))

    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("100.00", "0.00", "Paid", day)


def test_a_sent_invoice_shows_sent_again_when_its_payment_is_removed(us_world: World) -> None:
    """Before any payment OneDesk showed Sent: with nothing paid any more it must show Sent, not Open."""
    world = us_world
    deleted, voided = copy_invoices(world, "Sent Already Pty", ["100.00", "90.00"], status="Sent", idle=True)
    p_deleted = pay(world, deleted.customer_id, "40.00", applied(deleted.qbo_id, "40.00"))
    p_voided = pay(world, voided.customer_id, "90.00", applied(voided.qbo_id, "90.00"))
    states = settle(world, [deleted, voided])
    assert [states[i.onedesk_id]["status"] for i in (deleted, voided)] == ["PartiallyPaid", "Paid"]

    delete_payment(world, p_deleted)
    void_payment(world, p_voided)

    states = settle(world, [deleted, voided])
    assert states[deleted.onedesk_id] == state("0.00", "100.00", "Sent", None)
    assert states[voided.onedesk_id] == state("0.00", "90.00", "Sent", None)


# ------------------------------------------------------------------------------------------ delivery
def capture_then_replay(world: World, app: EmulatorApp, steps: list[Any], invoices: list[Mapped]) -> int:
    """Runs the bookkeeper's ``steps`` while the emulator delivers to our receiver (one delivery per step),
    checks that OneDesk saw nothing, then delivers every captured webhook 5 times, shuffled, to the product
    with its original bytes and intuit-signature. Returns the shuffle's seed."""
    captured = app.capture()
    for step in steps:
        step()
        flush(world)  # one delivery per change: the shuffle reorders changes, not just batches
    realm = world.qbo.realm_id

    def mine() -> list[Captured]:
        return [d for d in captured if any(ev.get("intuitaccountid") == realm for ev in d.events())]

    wait_for(
        lambda: sum(len(d.events()) for d in mine()) >= len(steps), timeout=WAIT, what="webhooks captured"
    )
    app.restore()
    deliveries = mine()
    assert deliveries
    assert all(d.signature for d in deliveries)
    for invoice in invoices:  # nothing reached the product: OneDesk still shows the copies as they were
        unpaid = state("0.00", str(invoice.total), invoice.unpaid_status, None)
        assert onedesk_state(world.onedesk.record(invoice.onedesk_id)) == unpaid

    replay = deliveries * 5
    seed = int.from_bytes(os.urandom(4))
    random.Random(seed).shuffle(replay)
    with requests.Session() as session:
        answers = Counter(post_webhook(world, d.body, d.signature, session).status_code for d in replay)
    assert answers == {200: len(replay)}, f"seed {seed}"
    return seed


def test_every_webhook_five_times_shuffled_gives_the_same_final_values(
    us_world: World, emulator_app: EmulatorApp
) -> None:
    """All the sequences above but the credit memo (see the next test), in one realm."""
    world = us_world
    rates = ["100.00", "50.25", "200.00", "75.00", "60.00"]
    a, b, c, d, e = copy_invoices(world, "Replay Partners", rates, idle=True)
    customer = a.customer_id
    made: dict[str, dict[str, Any]] = {}

    def keep(name: str, payment: dict[str, Any]) -> None:
        made[name] = payment

    steps = [
        lambda: pay(world, customer, "130.25", applied(a.qbo_id, "100.00"), applied(b.qbo_id, "30.25")),
        lambda: keep("c50", pay(world, customer, "50.00", applied(c.qbo_id, "50.00"))),
        lambda: keep("c150", pay(world, customer, "150.00", applied(c.qbo_id, "150.00"))),
        lambda: keep("d75", pay(world, customer, "75.00", applied(d.qbo_id, "75.00"))),
        lambda: void_invoice(world, e),
        lambda: edit_payment(world, made["c150"], "100.00", applied(c.qbo_id, "100.00")),
        lambda: void_payment(world, made["d75"]),
        lambda: pay(world, customer, "20.00", applied(d.qbo_id, "20.00")),
        lambda: pay(world, customer, "20.00", applied(b.qbo_id, "20.00")),
        lambda: delete_payment(world, made["c50"]),
    ]
    seed = capture_then_replay(world, emulator_app, steps, [a, b, c, d, e])
    before_void = {e.onedesk_id: state("0.00", "60.00", "Open", None)}

    states = settle(world, [a, b, c, d, e], before_void)
    day = today(world)
    assert states == {
        a.onedesk_id: state("100.00", "0.00", "Paid", day),
        b.onedesk_id: state("50.25", "0.00", "Paid", day),
        c.onedesk_id: state("100.00", "100.00", "PartiallyPaid", day),
        d.onedesk_id: state("20.00", "55.00", "PartiallyPaid", day),
        e.onedesk_id: state("0.00", "60.00", "Open", None),
    }, f"seed {seed}"


def test_every_webhook_five_times_shuffled_with_a_credit_memo(
    credit_world: World, emulator_app: EmulatorApp
) -> None:
    """The credit memo sequence replayed; then a live payment must still reach OneDesk."""
    world = credit_world
    (invoice,) = copy_invoices(world, "Replay Credit BV", ["100.00"], idle=True)
    memo: dict[str, Any] = {}
    steps = [
        lambda: memo.update(credit_memo(world, invoice, "30.00")),
        lambda: pay(
            world,
            invoice.customer_id,
            "50.00",
            applied(invoice.qbo_id, "80.00"),
            applied(memo["Id"], "30.00", "CreditMemo"),
        ),
    ]
    seed = capture_then_replay(world, emulator_app, steps, [invoice])
    states = settle(world, [invoice])
    day = today(world)
    assert states[invoice.onedesk_id] == state("80.00", "20.00", "PartiallyPaid", day), f"seed {seed}"

    pay(world, invoice.customer_id, "20.00", applied(invoice.qbo_id, "20.00"))
    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("100.00", "0.00", "Paid", day), f"seed {seed}"


def test_payment_events_arriving_after_the_payment_changed(
    us_world: World, emulator_app: EmulatorApp
) -> None:
    """Every webhook delivered once and in order, only late (Intuit batches them): the invoices' "updated"
    events are read while the payments are applied; the payments' events arrive after one payment was
    edited off an invoice and the other deleted."""
    world = us_world
    captured = emulator_app.capture()
    a, b, c = copy_invoices(world, "Late Webhooks AG", ["100.00", "50.00", "40.00"])
    flush(world)  # the copy's deliveries stay apart from the payments'
    customer = a.customer_id
    p_ab = pay(world, customer, "150.00", applied(a.qbo_id, "100.00"), applied(b.qbo_id, "50.00"))
    p_c = pay(world, customer, "40.00", applied(c.qbo_id, "40.00"))
    for invoice in (a, b, c):  # the bookkeeper touches each paid invoice: QBO emits "invoice updated"
        current = world.qbo.entity("Invoice", invoice.qbo_id)
        world.qbo.data(
            "POST",
            "invoice",
            {
                "Id": invoice.qbo_id,
                "SyncToken": current["SyncToken"],
                "sparse": True,
                "PrivateNote": "Checked by the bookkeeper",
            },
        )
    flush(world)
    realm = world.qbo.realm_id

    def mine(entity: str) -> list[Captured]:
        return [
            d
            for d in list(captured)
            if any(
                ev.get("intuitaccountid") == realm and f".{entity}." in ev.get("type", "")
                for ev in d.events()
            )
        ]

    wait_for(lambda: len(mine("invoice")) >= 1 and len(mine("payment")) >= 1, timeout=WAIT, what="captured")
    assert not set(map(id, mine("invoice"))) & set(map(id, mine("payment")))
    for delivery in mine("invoice"):  # the invoices' events: OneDesk reads the paid invoices
        assert post_webhook(world, delivery.body, delivery.signature).status_code == 200
    states = settle(world, [a, b, c])
    assert [states[i.onedesk_id]["status"] for i in (a, b, c)] == ["Paid", "Paid", "Paid"]
    barrier(world)

    edit_payment(world, p_ab, "25.00", applied(a.qbo_id, "25.00"))
    delete_payment(world, p_c)
    flush(world)
    wait_for(
        lambda: sum(len(d.events()) for d in mine("payment")) >= 4,
        timeout=WAIT,
        what="payment webhooks captured",
    )
    emulator_app.restore()
    for delivery in mine("payment"):  # the payments' events, late, in their original order
        assert post_webhook(world, delivery.body, delivery.signature).status_code == 200

    states = settle(world, [a, b, c])
    assert states[a.onedesk_id] == state("25.00", "75.00", "PartiallyPaid", today(world))
    assert states[b.onedesk_id] == state("0.00", "50.00", "Open", None)
    assert states[c.onedesk_id] == state("0.00", "40.00", "Open", None)


def fire_reconcile(stack: LocalStack, world: World) -> None:
    before = realm_seq(world)
    result = stack.runner.fire_schedule("QboReconcileFunction")
    assert result.ok, (result.error, result.logs[-5:])
    cdc = [r for r in world.qbo.data_requests(before) if r["path"].endswith("/cdc")]
    assert [r["status"] for r in cdc] == [200], cdc


def test_reconcile_alone_brings_every_invoice_right_when_webhooks_are_lost(
    stack: LocalStack, us_world: World, emulator_app: EmulatorApp
) -> None:
    world = us_world
    rates = ["100.00", "50.25", "200.00", "75.00", "40.00"]
    a, b, c, d, e = copy_invoices(world, "Lost Webhooks Corp", rates)
    customer = a.customer_id
    # Seen by OneDesk while webhooks still work: D and E paid.
    p_d = pay(world, customer, "75.00", applied(d.qbo_id, "75.00"))
    p_e = pay(world, customer, "40.00", applied(e.qbo_id, "40.00"))
    settle(world, [d, e])
    barrier(world)

    emulator_app.update(webhooks_enabled=False)  # events are dropped, not held
    pay(world, customer, "120.25", applied(a.qbo_id, "100.00"), applied(b.qbo_id, "20.25"))
    p_c = pay(world, customer, "200.00", applied(c.qbo_id, "200.00"))
    edit_payment(world, p_c, "120.00", applied(c.qbo_id, "120.00"))
    delete_payment(world, p_d)
    void_payment(world, p_e)
    pay(world, customer, "30.00", applied(b.qbo_id, "30.00"))

    time.sleep(3)  # what a delivered webhook would have done by now
    day = today(world)
    stale = {i.onedesk_id: onedesk_state(world.onedesk.record(i.onedesk_id)) for i in (a, b, c, d, e)}
    assert stale == {
        a.onedesk_id: state("0.00", "100.00", "Open", None),
        b.onedesk_id: state("0.00", "50.25", "Open", None),
        c.onedesk_id: state("0.00", "200.00", "Open", None),
        d.onedesk_id: state("75.00", "0.00", "Paid", day),
        e.onedesk_id: state("40.00", "0.00", "Paid", day),
    }

    fire_reconcile(stack, world)

    states = settle(world, [a, b, c, d, e])
    assert states == {
        a.onedesk_id: state("100.00", "0.00", "Paid", day),
        b.onedesk_id: state("50.25", "0.00", "Paid", day),
        c.onedesk_id: state("120.00", "80.00", "PartiallyPaid", day),
        d.onedesk_id: state("0.00", "75.00", "Open", None),
        e.onedesk_id: state("0.00", "40.00", "Open", None),
    }


def test_reconcile_brings_a_credit_memo_right_when_webhooks_are_lost(
    stack: LocalStack, credit_world: World, emulator_app: EmulatorApp
) -> None:
    world = credit_world
    (invoice,) = copy_invoices(world, "Lost Credit Oy", ["100.00"], idle=True)
    emulator_app.update(webhooks_enabled=False)
    memo = credit_memo(world, invoice, "30.00")
    pay(
        world,
        invoice.customer_id,
        "50.00",
        applied(invoice.qbo_id, "80.00"),
        applied(memo["Id"], "30.00", "CreditMemo"),
    )
    assert onedesk_state(world.onedesk.record(invoice.onedesk_id)) == state("0.00", "100.00", "Open", None)

    fire_reconcile(stack, world)

    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("80.00", "20.00", "PartiallyPaid", today(world))


# ------------------------------------------------------------------------------------------ security
def tamper(body: bytes, index: int) -> bytes:
    """One byte changed: alternately a hex digit of the event id (still valid JSON, a new event id) and a
    byte anywhere."""
    changed = bytearray(body)
    if index % 2 == 0:
        position = body.index(b'"id":"') + len(b'"id":"') + (index // 2) % 8
        changed[position] = ord("0") if changed[position] != ord("0") else ord("1")
    else:
        changed[(index * 7919) % len(body)] ^= 0x01
    assert changed != body
    return bytes(changed)


def test_forged_webhooks_are_all_rejected_and_nothing_is_enqueued(
    stack: LocalStack, us_world: World, emulator_app: EmulatorApp
) -> None:
    world = us_world
    realm = world.qbo.realm_id
    verifier = emulator_app.original["verifier_token"]
    (invoice,) = copy_invoices(world, "Forgery Target", ["100.00"])

    # A delivery the emulator made to the product for this realm (the copy's invoice), accepted again.
    flush(world)
    valid = next(
        Captured(d["body"].encode(), d["signature"])
        for d in world.qbo.control("GET", "/webhooks")
        if d["status"] == 200
        and any(
            ev.get("intuitaccountid") == realm and ev.get("type", "").startswith("qbo.invoice.")
            for ev in Captured(d["body"].encode(), None).events()
        )
    )
    assert post_webhook(world, valid.body, valid.signature).status_code == 200

    # QBO says paid, OneDesk does not know: any change let through would show in OneDesk.
    barrier(world)
    emulator_app.update(webhooks_enabled=False)
    pay(world, invoice.customer_id, "100.00", applied(invoice.qbo_id, "100.00"))
    since = barrier(world)
    depth = queue_depth(stack)
    untouched = world.onedesk.record(invoice.onedesk_id)
    assert onedesk_state(untouched) == state("0.00", "100.00", "Open", None)

    def forged(index: int) -> tuple[bytes, str | None]:
        body = event_body(realm, "Invoice", invoice.qbo_id)
        kind = index % 4
        if kind == 0:
            return body, None  # unsigned
        if kind == 1:
            return body, base64.b64encode(os.urandom(32)).decode()  # a random signature
        if kind == 2:
            return body, intuit_signature("another-app-verifier-token", body)  # another verifier
        return tamper(valid.body, index // 4), valid.signature  # a valid body, one byte changed

    sessions = threading.local()

    def send(index: int) -> int:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        body, signature = forged(index)
        return post_webhook(world, body, signature, sessions.session).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = Counter(pool.map(send, range(1000)))
    assert answers == {401: 1000}
    # Webhooks are off app-wide, so nothing else can add to the queue now; other realms' messages may still
    # leave it. The decisive check is below: any change queued for this realm makes sync_payments read QBO.
    assert queue_depth(stack) <= depth

    # Correctly signed, yet nothing to queue.
    for body, status in [
        (b'[{"id": "x", "type": "qbo.invoice.updated.v1",', 400),  # malformed JSON
        (b'{"hello": "world"}', 400),  # JSON, but not an Intuit notification
        (event_body("9999999999999999", "Invoice", invoice.qbo_id), 200),  # a realm no tenant has
        (b"[" + b" " * (1024 * 1024) + b"]", 413),  # over 1 MiB
    ]:
        assert post_webhook(world, body, intuit_signature(verifier, body)).status_code == status, body[:60]

    time.sleep(3)  # longer than the poller's wait: a queued change would have been read by now
    assert queue_depth(stack) <= depth
    assert world.qbo.data_requests(since) == []  # sync_payments never asked QBO about this realm
    assert world.onedesk.record(invoice.onedesk_id) == untouched

    # The channel works: one correctly signed event brings the invoice right.
    good = event_body(realm, "Invoice", invoice.qbo_id)
    assert post_webhook(world, good, intuit_signature(verifier, good)).status_code == 200
    states = settle(world, [invoice])
    assert states[invoice.onedesk_id] == state("100.00", "0.00", "Paid", today(world))
