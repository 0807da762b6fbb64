"""Void and hard delete of transactions (qbo-facts §3, §9)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from .conftest import US_REALM, Api, Control, JsonObj, assert_fault, loads, parse_ts, sales_line, sales_lines


def invoice(us: Api, ids: dict[str, str], note: str | None = None) -> JsonObj:
    extra = {"PrivateNote": note} if note else {}
    return us.invoice(ids["amy"], [sales_line("120.00", ids["hours"], qty="2", price="60.00")], **extra)


def test_void_zeroes_amounts_and_keeps_invoice(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 void invoice: POST ?operation=void {Id, SyncToken} ⇒ invoice stays, amounts zeroed,
    Balance 0, TotalAmt 0, "Voided" prepended to PrivateNote, SyncToken +1."""
    inv = invoice(us, us_ids, note="OneDesk #42")
    resp = us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void")
    assert resp.status_code == 200, resp.text
    voided = loads(resp)["Invoice"]
    assert voided["Id"] == inv["Id"]
    assert voided["TotalAmt"] == Decimal("0")
    assert voided["Balance"] == Decimal("0")
    assert voided["SyncToken"] == "1"
    assert voided["PrivateNote"].startswith("Voided")
    assert "OneDesk #42" in voided["PrivateNote"]
    assert all(ln["Amount"] == Decimal("0") for ln in sales_lines(voided))
    stored = ctl.entity(US_REALM, "Invoice", inv["Id"])
    assert stored["TotalAmt"] == Decimal("0")
    assert us.read("Invoice", inv["Id"])["Balance"] == Decimal("0")


def test_void_with_stale_synctoken_is_5010(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §3: stale SyncToken on any write ⇒ 400 code 5010; invoice not voided."""
    inv = invoice(us, us_ids)
    us.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "edit"})
    assert_fault(us.post("invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="void"), "5010")
    assert us.read("Invoice", inv["Id"])["TotalAmt"] == Decimal("120.00")


def test_delete_returns_stub_then_610(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 delete invoice: ?operation=delete ⇒ {"Invoice":{"status":"Deleted","domain":"QBO",
    "Id"},"time"}; afterwards read/update ⇒ 610 and the object is gone (hard delete)."""
    inv = invoice(us, us_ids)
    resp = us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="delete")
    assert resp.status_code == 200, resp.text
    body = loads(resp)
    assert "time" in body
    assert body["Invoice"]["status"] == "Deleted"
    assert body["Invoice"]["domain"] == "QBO"
    assert body["Invoice"]["Id"] == inv["Id"]
    err = assert_fault(us.get(f"invoice/{inv['Id']}"), "610")
    assert "Object Not Found" in err["Message"]
    assert_fault(
        us.post("invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"}), "610"
    )
    assert all(i["Id"] != inv["Id"] for i in ctl.entities(US_REALM, "Invoice"))
    assert us.rows(f"SELECT * FROM Invoice WHERE Id = '{inv['Id']}'", "Invoice") == []


def test_delete_with_stale_synctoken_is_5010(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3: delete with an old SyncToken ⇒ 400 5010; the invoice survives."""
    inv = invoice(us, us_ids)
    us.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "edit"})
    assert_fault(us.post("invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="delete"), "5010")
    assert ctl.entity(US_REALM, "Invoice", inv["Id"])["SyncToken"] == "1"


def test_delete_unknown_is_610(us: Api) -> None:
    """qbo-facts §5: deleting an unknown transaction Id ⇒ 400 610."""
    assert_fault(us.post("invoice", {"Id": "424242", "SyncToken": "0"}, operation="delete"), "610")


def test_delete_appears_as_stub_in_cdc(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §9: deletes appear in CDC as {"domain":"QBO","status":"Deleted","Id",
    "MetaData":{"LastUpdatedTime"}} stubs."""
    inv = invoice(us, us_ids)
    since = parse_ts(inv["MetaData"]["CreateTime"]) - timedelta(minutes=5)
    resp = us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="delete")
    assert resp.status_code == 200, resp.text
    cdc = us.get("cdc", entities="Invoice", changedSince=since.isoformat())
    assert cdc.status_code == 200, cdc.text
    groups = loads(cdc)["CDCResponse"][0]["QueryResponse"]
    invoices = [obj for group in groups for obj in group.get("Invoice", [])]
    stubs = [obj for obj in invoices if obj["Id"] == inv["Id"]]
    assert len(stubs) == 1, invoices
    stub = stubs[0]
    assert stub["status"] == "Deleted"
    assert stub["domain"] == "QBO"
    assert "LastUpdatedTime" in stub["MetaData"]
    assert "TotalAmt" not in stub


def test_voided_invoice_is_still_listed(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §3: a voided invoice stays (queryable), unlike a deleted one."""
    inv = invoice(us, us_ids)
    us.post("invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="void")
    rows = us.rows(f"SELECT * FROM Invoice WHERE Id = '{inv['Id']}'", "Invoice")
    assert len(rows) == 1
    assert rows[0]["TotalAmt"] == Decimal("0")


def test_delete_paid_invoice_is_rejected(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 delete invoice: "Linked transactions must be unlinked first" — deleting an invoice with
    an applied payment ⇒ 400 Fault; the invoice survives."""
    inv = invoice(us, us_ids)
    us.create(
        "Payment",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "TotalAmt": Decimal("120.00"),
            "Line": [
                {"Amount": Decimal("120.00"), "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    resp = us.post("invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="delete")
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
    assert ctl.entity(US_REALM, "Invoice", inv["Id"])["Balance"] == Decimal("0")
