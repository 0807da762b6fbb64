"""Webhook deliveries: CloudEvents, legacy, signature, retries (qbo-facts §10)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import US_REALM, VERIFIER_TOKEN, Api, Control, JsonObj, sales_line


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny local webhook endpoint; answers each POST with the next status of `statuses` (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 5.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.deliveries)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"webhook condition not met; got {len(self.deliveries)} deliveries")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = rec.next_status()
            with rec.lock:
                rec.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/qbo-webhook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def signature(body: bytes, token: str = VERIFIER_TOKEN) -> str:
    """qbo-facts §10: base64(HMAC-SHA256(key=verifier token, msg=raw body))."""
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def events(deliveries: list[Delivery], answered: int | None = 200) -> list[JsonObj]:
    """Every CloudEvent from deliveries the receiver answered with `answered` (None = all), in order."""
    out: list[JsonObj] = []
    for d in deliveries:
        if answered is None or d.answered == answered:
            out.extend(d.json())
    return out


def flush(ctl: Control) -> None:
    ctl.ok("POST", "/_sandbox/webhooks/flush")


def has_event(entity_id: str, event_type: str) -> Callable[[list[Delivery]], bool]:
    def check(deliveries: list[Delivery]) -> bool:
        return any(
            e.get("intuitentityid") == entity_id and e.get("type") == event_type
            for e in events(deliveries, None)
            if isinstance(e, dict)
        )

    return check


def test_cloudevents_delivery_and_signature(
    us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]
) -> None:
    """qbo-facts §10 CloudEvents: a JSON array of CloudEvents 1.0 objects (specversion, id uuid, source,
    type qbo.invoice.created.v1, time, intuitentityid, intuitaccountid = realm, data {}); header
    intuit-signature = base64(HMAC-SHA256(verifier token, raw body)); Content-Type application/json."""
    ctl.app(webhook_url=receiver.url)
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    flush(ctl)
    deliveries = receiver.wait_for(has_event(inv["Id"], "qbo.invoice.created.v1"))
    delivery = next(d for d in deliveries if has_event(inv["Id"], "qbo.invoice.created.v1")([d]))
    assert delivery.headers["intuit-signature"] == signature(delivery.body)
    assert delivery.headers["content-type"].startswith("application/json")
    payload = delivery.json()
    assert isinstance(payload, list)
    event = next(e for e in payload if e["intuitentityid"] == inv["Id"])
    assert set(event) >= {
        "specversion",
        "id",
        "source",
        "type",
        "datacontenttype",
        "time",
        "intuitentityid",
        "intuitaccountid",
        "data",
    }
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"
    assert event["type"] == "qbo.invoice.created.v1"
    assert event["intuitaccountid"] == US_REALM
    assert event["data"] == {}
    assert event["source"]
    uuid.UUID(event["id"])
    assert event["time"]
    recorded = ctl.ok("GET", "/_sandbox/webhooks")
    assert any(r["url"] == receiver.url and r["status"] == 200 for r in recorded)
    assert any(r["signature"] == delivery.headers["intuit-signature"] for r in recorded)


def test_custom_verifier_token_signs(us: Api, ctl: Control, receiver: Receiver) -> None:
    """qbo-facts §10: the HMAC key is the app's verifier token (not the client secret)."""
    ctl.app(webhook_url=receiver.url, verifier_token="another-verifier")
    cust = us.create("Customer", {"DisplayName": "Hooked Customer"})
    flush(ctl)
    deliveries = receiver.wait_for(has_event(cust["Id"], "qbo.customer.created.v1"))
    for d in deliveries:
        assert d.headers["intuit-signature"] == signature(d.body, "another-verifier")
        assert d.headers["intuit-signature"] != signature(d.body, VERIFIER_TOKEN)


def test_event_types_in_order(us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]) -> None:
    """qbo-facts §10: type = qbo.invoice.{created,updated,emailed,void,deleted}.v1, delivered in the order
    they happened, each with a fresh id."""
    ctl.app(webhook_url=receiver.url)
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])], BillEmail={"Address": "a@b.com"})
    inv = us.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "u"})
    assert us.send(inv["Id"]).status_code == 200
    assert us.post("invoice", {"Id": inv["Id"], "SyncToken": "2"}, operation="void").status_code == 200
    assert us.post("invoice", {"Id": inv["Id"], "SyncToken": "3"}, operation="delete").status_code == 200
    flush(ctl)
    deliveries = receiver.wait_for(has_event(inv["Id"], "qbo.invoice.deleted.v1"))
    mine = [e for e in events(deliveries) if e["intuitentityid"] == inv["Id"]]
    assert [e["type"] for e in mine] == [
        "qbo.invoice.created.v1",
        "qbo.invoice.updated.v1",
        "qbo.invoice.emailed.v1",
        "qbo.invoice.void.v1",
        "qbo.invoice.deleted.v1",
    ]
    assert len({e["id"] for e in mine}) == 5


def test_payment_and_item_events(us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]) -> None:
    """qbo-facts §10: Payment and Item changes emit qbo.payment.created.v1 / qbo.item.created.v1."""
    ctl.app(webhook_url=receiver.url)
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    pay = us.create(
        "Payment",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "TotalAmt": 10,
            "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    item = us.create("Item", {"Name": "Hooked Item", "Type": "Service", "IncomeAccountRef": {"value": "79"}})
    flush(ctl)
    receiver.wait_for(has_event(pay["Id"], "qbo.payment.created.v1"))
    receiver.wait_for(has_event(item["Id"], "qbo.item.created.v1"))


def test_legacy_format(us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]) -> None:
    """qbo-facts §10 legacy payload: {"eventNotifications":[{"realmId","dataChangeEvent":{"entities":[{name,
    id, operation Create, lastUpdated}]}}]}, same signature scheme."""
    ctl.app(webhook_url=receiver.url, webhook_format="legacy")
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    flush(ctl)

    def has_legacy(deliveries: list[Delivery]) -> bool:
        return any("eventNotifications" in d.json() for d in deliveries)

    deliveries = receiver.wait_for(has_legacy)
    delivery = deliveries[0]
    assert delivery.headers["intuit-signature"] == signature(delivery.body)
    notes = delivery.json()["eventNotifications"]
    assert notes[0]["realmId"] == US_REALM
    entities = [e for n in notes for e in n["dataChangeEvent"]["entities"]]
    mine = [e for e in entities if e["id"] == inv["Id"]]
    assert len(mine) == 1
    assert mine[0]["name"] == "Invoice"
    assert mine[0]["operation"] == "Create"
    assert mine[0]["lastUpdated"]


def test_cloudevents_batch_content_type(us: Api, ctl: Control, receiver: Receiver) -> None:
    """qbo-facts §10 (Content-Type UNCONF; spec selectable): application/cloudevents-batch+json."""
    ctl.app(webhook_url=receiver.url, webhook_content_type="application/cloudevents-batch+json")
    cust = us.create("Customer", {"DisplayName": "Batch Typed"})
    flush(ctl)
    deliveries = receiver.wait_for(has_event(cust["Id"], "qbo.customer.created.v1"))
    assert deliveries[0].headers["content-type"].startswith("application/cloudevents-batch+json")


def test_events_batched_per_delivery(us: Api, ctl: Control, receiver: Receiver) -> None:
    """qbo-facts §10 (events queued and batched together) + spec: pending events go out together;
    none lost."""
    ctl.app(webhook_url=receiver.url)
    ids = [us.create("Customer", {"DisplayName": f"Batched {n}"})["Id"] for n in range(5)]
    flush(ctl)
    deliveries = receiver.wait_for(lambda ds: {e["intuitentityid"] for e in events(ds)} >= set(ids))
    assert len(deliveries) <= 5
    created = [e["intuitentityid"] for e in events(deliveries) if e["type"] == "qbo.customer.created.v1"]
    assert created == ids


def test_disabled_or_unset_webhooks_deliver_nothing(us: Api, ctl: Control, receiver: Receiver) -> None:
    """qbo-facts §10 (events only for a configured endpoint) + spec webhooks_enabled: nothing is sent when the
    URL is unset or webhooks are disabled."""
    us.create("Customer", {"DisplayName": "No Hook 1"})
    flush(ctl)
    ctl.app(webhook_url=receiver.url, webhooks_enabled=False)
    us.create("Customer", {"DisplayName": "No Hook 2"})
    flush(ctl)
    time.sleep(0.2)
    assert receiver.deliveries == []
    assert ctl.ok("GET", "/_sandbox/webhooks") == []


def test_failed_delivery_is_retried_with_same_events(
    us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]
) -> None:
    """qbo-facts §10 delivery: non-2xx ⇒ retried (0 s, 10 s, 20 s, … divided by clock speed) with the same
    events (same CloudEvent ids, at-least-once); /_sandbox/webhooks records each attempt."""
    receiver.statuses = [500, 500]
    ctl.app(webhook_url=receiver.url)
    ctl.clock(speed=200.0)
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    flush(ctl)
    deliveries = receiver.wait_for(lambda ds: any(d.answered == 200 for d in ds), timeout=10)
    ctl.clock(speed=1.0)
    assert [d.answered for d in deliveries][:3] == [500, 500, 200]
    first_ids = [e["id"] for e in deliveries[0].json() if e["intuitentityid"] == inv["Id"]]
    final_ids = [e["id"] for e in events(deliveries) if e["intuitentityid"] == inv["Id"]]
    assert first_ids
    assert first_ids == final_ids
    for d in deliveries:
        assert d.headers["intuit-signature"] == signature(d.body)
    recorded = ctl.ok("GET", "/_sandbox/webhooks")
    assert [r["status"] for r in recorded][:3] == [500, 500, 200]
    attempts = [r["attempt"] for r in recorded][:3]
    assert attempts == sorted(attempts)
    assert len(set(attempts)) == 3


def test_payment_void_and_customer_inactivation_events(
    us: Api, ctl: Control, receiver: Receiver, us_ids: dict[str, str]
) -> None:
    """qbo-facts §10 types: a voided payment ⇒ qbo.payment.void.v1; §9/§13.14 a customer set Active false is
    an update ⇒ qbo.customer.updated.v1 (name lists are never deleted)."""
    ctl.app(webhook_url=receiver.url)
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    pay = us.create(
        "Payment",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "TotalAmt": 10,
            "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    voided = us.post(
        "payment", {"Id": pay["Id"], "SyncToken": "0", "sparse": True}, operation="update", include="void"
    )
    assert voided.status_code == 200, voided.text
    us.update("Customer", {"Id": us_ids["bill"], "SyncToken": "0", "sparse": True, "Active": False})
    flush(ctl)
    receiver.wait_for(has_event(pay["Id"], "qbo.payment.void.v1"))
    deliveries = receiver.wait_for(has_event(us_ids["bill"], "qbo.customer.updated.v1"))
    bill_types = [e["type"] for e in events(deliveries, None) if e["intuitentityid"] == us_ids["bill"]]
    assert "qbo.customer.deleted.v1" not in bill_types
