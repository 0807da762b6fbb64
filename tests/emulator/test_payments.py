"""Payments applied to invoices and credit memos (qbo-facts §2 Payment, §3)."""

from __future__ import annotations

from decimal import Decimal

from .conftest import US_REALM, Api, Control, JsonObj, assert_fault, loads, sales_line


def invoice(us: Api, ids: dict[str, str], amount: str) -> JsonObj:
    return us.invoice(ids["amy"], [sales_line(amount, ids["hours"])])


def pay_line(amount: str, txn_id: str, txn_type: str = "Invoice") -> JsonObj:
    return {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}


def payment(us: Api, ids: dict[str, str], total: str, lines: list[JsonObj]) -> JsonObj:
    return us.create(
        "Payment", {"CustomerRef": {"value": ids["amy"]}, "TotalAmt": Decimal(total), "Line": lines}
    )


def balance(us: Api, invoice_id: str) -> Decimal:
    value: Decimal = us.read("Invoice", invoice_id)["Balance"]
    return value


def linked_payments(us: Api, invoice_id: str) -> list[str]:
    links = us.read("Invoice", invoice_id).get("LinkedTxn", [])
    return [lt["TxnId"] for lt in links if lt["TxnType"] == "Payment"]


def test_payment_across_two_invoices(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment: Line[{Amount, LinkedTxn[{TxnId, TxnType Invoice}]}] applied across two
    invoices zeroes both Balances, each invoice's LinkedTxn gains {TxnId: payment, TxnType: Payment};
    UnappliedAmt 0."""
    inv1 = invoice(us, us_ids, "100.00")
    inv2 = invoice(us, us_ids, "50.25")
    pay = payment(us, us_ids, "150.25", [pay_line("100.00", inv1["Id"]), pay_line("50.25", inv2["Id"])])
    assert isinstance(pay["Id"], str)
    assert pay["SyncToken"] == "0"
    assert pay["TotalAmt"] == Decimal("150.25")
    assert pay["UnappliedAmt"] == Decimal("0")
    linked = sorted(lt["TxnId"] for ln in pay["Line"] for lt in ln["LinkedTxn"])
    assert linked == sorted([inv1["Id"], inv2["Id"]])
    assert balance(us, inv1["Id"]) == Decimal("0")
    assert balance(us, inv2["Id"]) == Decimal("0")
    assert linked_payments(us, inv1["Id"]) == [pay["Id"]]
    assert linked_payments(us, inv2["Id"]) == [pay["Id"]]
    assert us.read("Invoice", inv1["Id"])["TotalAmt"] == Decimal("100.00")


def test_partial_payment_and_unapplied_amount(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment: partial application reduces Balance by the line amount; UnappliedAmt =
    TotalAmt - applied (50.00 - 40.00 = 10.00)."""
    inv = invoice(us, us_ids, "100.00")
    pay = payment(us, us_ids, "50.00", [pay_line("40.00", inv["Id"])])
    assert pay["UnappliedAmt"] == Decimal("10.00")
    assert balance(us, inv["Id"]) == Decimal("60.00")


def test_payment_without_lines_is_unapplied_credit(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment: a payment with no lines is an unapplied credit (UnappliedAmt = TotalAmt)."""
    pay = us.create("Payment", {"CustomerRef": {"value": us_ids["amy"]}, "TotalAmt": Decimal("25.00")})
    assert pay["UnappliedAmt"] == Decimal("25.00")


def test_edit_payment_down_restores_part_of_balance(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment (lines all-or-nothing on update) + spec: updating the payment to apply 25.00
    instead of 100.00 recomputes the invoice Balance to 75.00."""
    inv = invoice(us, us_ids, "100.00")
    pay = payment(us, us_ids, "100.00", [pay_line("100.00", inv["Id"])])
    assert balance(us, inv["Id"]) == Decimal("0")
    upd = us.update(
        "Payment",
        {
            "Id": pay["Id"],
            "SyncToken": pay["SyncToken"],
            "sparse": True,
            "TotalAmt": Decimal("25.00"),
            "Line": [pay_line("25.00", inv["Id"])],
        },
    )
    assert upd["SyncToken"] == "1"
    assert upd["TotalAmt"] == Decimal("25.00")
    assert balance(us, inv["Id"]) == Decimal("75.00")


def test_delete_payment_restores_balance(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 (transaction hard delete) + spec Payment: deleting a payment restores the invoice
    Balance; the delete returns the Deleted stub."""
    inv = invoice(us, us_ids, "100.00")
    pay = payment(us, us_ids, "60.00", [pay_line("60.00", inv["Id"])])
    assert balance(us, inv["Id"]) == Decimal("40.00")
    resp = us.post("payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]}, operation="delete")
    assert resp.status_code == 200, resp.text
    stub = loads(resp)["Payment"]
    assert stub["status"] == "Deleted"
    assert stub["Id"] == pay["Id"]
    assert balance(us, inv["Id"]) == Decimal("100.00")
    assert all(p["Id"] != pay["Id"] for p in ctl.entities(US_REALM, "Payment"))


def test_void_payment_restores_balance(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §1 (void payment = ?operation=update&include=void {Id,SyncToken,sparse}) + §2 Payment void:
    amounts 0, PrivateNote "Voided"; the invoice Balance is restored."""
    inv = invoice(us, us_ids, "80.00")
    pay = payment(us, us_ids, "80.00", [pay_line("80.00", inv["Id"])])
    resp = us.post(
        "payment",
        {"Id": pay["Id"], "SyncToken": pay["SyncToken"], "sparse": True},
        operation="update",
        include="void",
    )
    assert resp.status_code == 200, resp.text
    voided = loads(resp)["Payment"]
    assert voided["TotalAmt"] == Decimal("0")
    assert "Voided" in voided.get("PrivateNote", "")
    assert voided["SyncToken"] == "1"
    assert balance(us, inv["Id"]) == Decimal("80.00")


def test_overapplying_payment_is_6000(us: Api, us_ids: dict[str, str]) -> None:
    """Spec Payment (qbo-facts §2): applying more than the invoice's Balance ⇒ 400 6000; Balance intact."""
    inv = invoice(us, us_ids, "30.00")
    resp = us.post(
        "payment",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "TotalAmt": Decimal("40.00"),
            "Line": [pay_line("40.00", inv["Id"])],
        },
    )
    assert_fault(resp, "6000")
    assert balance(us, inv["Id"]) == Decimal("30.00")


def test_payment_missing_total_is_6000(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment: missing TotalAmt ⇒ 6000 "You must set a transaction amount"."""
    inv = invoice(us, us_ids, "30.00")
    resp = us.post(
        "payment", {"CustomerRef": {"value": us_ids["amy"]}, "Line": [pay_line("30.00", inv["Id"])]}
    )
    err = assert_fault(resp, "6000")
    assert "transaction amount" in f"{err['Message']} {err.get('Detail', '')}"


def test_payment_missing_customer_is_rejected(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment: CustomerRef is required ⇒ 400 (required-param 2020 or business 6000)."""
    inv = invoice(us, us_ids, "30.00")
    resp = us.post("payment", {"TotalAmt": Decimal("30.00"), "Line": [pay_line("30.00", inv["Id"])]})
    assert resp.status_code == 400, resp.text
    assert loads(resp)["Fault"]["Error"][0]["code"] in ("2020", "6000")
    assert ctl.entities(US_REALM, "Payment") == []


def test_payment_on_unknown_invoice_is_rejected(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §5 (610 for references to missing transactions): LinkedTxn to an unknown invoice ⇒ 400."""
    resp = us.post(
        "payment",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "TotalAmt": Decimal("5.00"),
            "Line": [pay_line("5.00", "777777")],
        },
    )
    assert resp.status_code == 400, resp.text


def test_credit_memo_created_with_balance(us: Api, us_ids: dict[str, str]) -> None:
    """Spec CreditMemo (qbo-facts §2 Payment TxnType CreditMemo): lines and TotalAmt like an invoice;
    Balance = remaining credit."""
    memo = us.create(
        "CreditMemo",
        {"CustomerRef": {"value": us_ids["amy"]}, "Line": [sales_line("30.00", us_ids["hours"])]},
    )
    assert memo["TotalAmt"] == Decimal("30.00")
    assert memo["Balance"] == Decimal("30.00")
    assert memo["SyncToken"] == "0"


def test_credit_memo_applied_via_payment(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Payment (LinkedTxn TxnType CreditMemo) + spec: a payment of 70.00 applying 100.00 to
    an invoice and the 30.00 credit memo zeroes both Balances."""
    inv = invoice(us, us_ids, "100.00")
    memo = us.create(
        "CreditMemo",
        {"CustomerRef": {"value": us_ids["amy"]}, "Line": [sales_line("30.00", us_ids["hours"])]},
    )
    pay = payment(
        us, us_ids, "70.00", [pay_line("100.00", inv["Id"]), pay_line("30.00", memo["Id"], "CreditMemo")]
    )
    assert pay["TotalAmt"] == Decimal("70.00")
    assert balance(us, inv["Id"]) == Decimal("0")
    assert us.read("CreditMemo", memo["Id"])["Balance"] == Decimal("0")
    assert linked_payments(us, inv["Id"]) == [pay["Id"]]


def test_payment_query_by_customer(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §4 filterable Payment fields: CustomerRef compares its value."""
    inv = invoice(us, us_ids, "10.00")
    pay = payment(us, us_ids, "10.00", [pay_line("10.00", inv["Id"])])
    rows = us.rows(f"SELECT * FROM Payment WHERE CustomerRef = '{us_ids['amy']}'", "Payment")
    assert [p["Id"] for p in rows] == [pay["Id"]]
    assert us.rows(f"SELECT * FROM Payment WHERE CustomerRef = '{us_ids['bill']}'", "Payment") == []
