"""Sending invoices through QBO (qbo-facts §8, §6 sandbox email limit)."""

from __future__ import annotations

from typing import Any

from .conftest import CA_REALM, OFFSET_TS, US_REALM, Api, Control, JsonObj, assert_fault, loads, sales_line


def make_invoice(us: Api, ids: dict[str, str], email: str | None = "amy@example.com") -> JsonObj:
    extra: dict[str, Any] = {"BillEmail": {"Address": email}} if email else {}
    return us.invoice(ids["amy"], [sales_line("50.00", ids["hours"])], **extra)


def sends(ctl: Control) -> list[JsonObj]:
    records: list[JsonObj] = ctl.ok("GET", "/_sandbox/sends", realmId=US_REALM)
    return records


def test_send_sets_email_sent_and_delivery_info(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §8: POST /invoice/{id}/send (octet-stream, empty body) returns the invoice with
    EmailStatus EmailSent, DeliveryInfo {DeliveryType Email, DeliveryTime offset ts}; SyncToken +1."""
    inv = make_invoice(us, us_ids)
    assert inv["EmailStatus"] == "NotSet"
    resp = us.send(inv["Id"])
    assert resp.status_code == 200, resp.text
    sent = loads(resp)["Invoice"]
    assert sent["Id"] == inv["Id"]
    assert sent["EmailStatus"] == "EmailSent"
    assert sent["DeliveryInfo"]["DeliveryType"] == "Email"
    assert OFFSET_TS.match(sent["DeliveryInfo"]["DeliveryTime"]), sent["DeliveryInfo"]
    assert sent["SyncToken"] == "1"
    assert sent["BillEmail"]["Address"] == "amy@example.com"
    stored = ctl.entity(US_REALM, "Invoice", inv["Id"])
    assert stored["EmailStatus"] == "EmailSent"
    records = sends(ctl)
    assert len(records) == 1
    assert records[0]["invoiceId"] == inv["Id"]
    assert records[0]["to"] == "amy@example.com"
    assert records[0]["realmId"] == US_REALM


def test_send_to_overwrites_bill_email(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §8: `?sendTo=` sends to that address and overwrites BillEmail.Address."""
    inv = make_invoice(us, us_ids)
    resp = us.send(inv["Id"], sendTo="billing+od@example.org")
    assert resp.status_code == 200, resp.text
    sent = loads(resp)["Invoice"]
    assert sent["BillEmail"]["Address"] == "billing+od@example.org"
    assert us.read("Invoice", inv["Id"])["BillEmail"]["Address"] == "billing+od@example.org"
    assert sends(ctl)[-1]["to"] == "billing+od@example.org"


def test_send_to_without_bill_email(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §8: an invoice without BillEmail can be sent with `sendTo`, which becomes BillEmail."""
    inv = make_invoice(us, us_ids, email=None)
    resp = us.send(inv["Id"], sendTo="payer@example.com")
    assert resp.status_code == 200, resp.text
    assert loads(resp)["Invoice"]["BillEmail"]["Address"] == "payer@example.com"


def test_send_without_any_email_is_400(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §8 (UNCONF, spec choice): no BillEmail and no sendTo ⇒ 400 code 6000 naming the missing
    email; nothing sent, SyncToken unchanged."""
    inv = make_invoice(us, us_ids, email=None)
    err = assert_fault(us.send(inv["Id"]), "6000")
    assert "email" in f"{err['Message']} {err.get('Detail', '')}".lower()
    assert sends(ctl) == []
    stored = us.read("Invoice", inv["Id"])
    assert stored["SyncToken"] == "0"
    assert stored["EmailStatus"] == "NotSet"


def test_send_to_invalid_email_is_400(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Customer email rule ('@' and '.') + spec: invalid sendTo ⇒ 400 code 6000."""
    inv = make_invoice(us, us_ids)
    assert_fault(us.send(inv["Id"], sendTo="not-an-email"), "6000")
    assert sends(ctl) == []
    assert us.read("Invoice", inv["Id"])["BillEmail"]["Address"] == "amy@example.com"


def test_send_unknown_invoice_is_610(us: Api) -> None:
    """qbo-facts §5: unknown Id ⇒ 400 code 610 Object Not Found."""
    assert_fault(us.send("987654"), "610")


def test_41st_send_of_the_day_is_400(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §6/§12: sandbox email sends are limited to 40/day/realm; the 41st ⇒ 400 code 6000 about
    the daily email limit; the next emulator day allows sending again."""
    inv = make_invoice(us, us_ids)
    for n in range(40):
        resp = us.send(inv["Id"])
        assert resp.status_code == 200, f"send {n + 1}: {resp.text}"
    err = assert_fault(us.send(inv["Id"]), "6000")
    assert "limit" in f"{err['Message']} {err.get('Detail', '')}".lower()
    assert len(sends(ctl)) == 40
    ctl.clock(advance_seconds=86400)
    us.use_token(ctl.token(US_REALM)["access_token"])
    assert us.send(inv["Id"]).status_code == 200


def test_send_limit_is_per_realm(us: Api, ca: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §6: the 40/day limit is per realm — a US realm at its limit does not block the CA realm."""
    inv = make_invoice(us, us_ids)
    for _ in range(40):
        assert us.send(inv["Id"]).status_code == 200
    ca_amy = ctl.find_id(CA_REALM, "Customer", "Amy's Bird Sanctuary")
    ca_hours = ctl.find_id(CA_REALM, "Item", "Hours")
    ca_inv = ca.invoice(ca_amy, [sales_line("10.00", ca_hours, tax="3")], BillEmail={"Address": "a@b.ca"})
    assert ca.send(ca_inv["Id"]).status_code == 200
