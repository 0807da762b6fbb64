"""Invoice arithmetic: line math, rounding, discounts, US and CA tax (qbo-facts §2, §12)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import (
    CA_REALM,
    US_REALM,
    Api,
    Control,
    assert_fault,
    loads,
    sales_line,
    sales_lines,
)


def discount_line(amount: str, *, percent: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"PercentBased": percent is not None, "DiscountAccountRef": {"value": "81"}}
    if percent is not None:
        detail["DiscountPercent"] = Decimal(percent)
    return {"DetailType": "DiscountLineDetail", "Amount": Decimal(amount), "DiscountLineDetail": detail}


def test_amount_not_qty_times_price_is_6000(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 SalesItemLineDetail/§13.15 (spec choice): Amount ≠ round(QtyxUnitPrice, 2) ⇒ 400 6000
    "Amount is not equal to UnitPrice * Qty"; nothing is created."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    resp = us.post(
        "invoice",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "Line": [sales_line("100.00", us_ids["hours"], qty="3", price="30.00")],
        },
    )
    err = assert_fault(resp, "6000")
    assert "Amount is not equal to UnitPrice * Qty" in f"{err['Message']} {err.get('Detail', '')}"
    assert len(ctl.entities(US_REALM, "Invoice")) == before


def test_qty_times_price_rounded_half_up_is_accepted(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2/§13.15 (spec): 1.333 x 75.00 = 99.975 rounds half-up to 99.98 ⇒ accepted; Qty and
    UnitPrice are echoed exactly."""
    inv = us.invoice(us_ids["amy"], [sales_line("99.98", us_ids["hours"], qty="1.333", price="75.00")])
    line = sales_lines(inv)[0]
    assert line["Amount"] == Decimal("99.98")
    assert line["SalesItemLineDetail"]["Qty"] == Decimal("1.333")
    assert line["SalesItemLineDetail"]["UnitPrice"] == Decimal("75.00")
    assert inv["TotalAmt"] == Decimal("99.98")


def test_qty_times_price_round_half_even_value_rejected(us: Api, us_ids: dict[str, str]) -> None:
    """Spec rounding rule (half-up, qbo-facts §13.15): 1.333 x 75.00 with Amount 99.97 (the truncated
    value) ⇒ 6000."""
    resp = us.post(
        "invoice",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "Line": [sales_line("99.97", us_ids["hours"], qty="1.333", price="75.00")],
        },
    )
    assert_fault(resp, "6000")


def test_amount_only_line_is_accepted(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 documented minimal invoice: a SalesItemLine with only Amount + ItemRef is valid."""
    inv = us.invoice(us_ids["amy"], [sales_line("100.00", us_ids["hours"])])
    assert inv["TotalAmt"] == Decimal("100.00")


def test_amounts_rounded_half_up_to_cents(us: Api, us_ids: dict[str, str]) -> None:
    """Spec data API: amounts are parsed as Decimal and rounded half-up to cents (10.005 ⇒ 10.01, never
    the float/half-even 10.00)."""
    inv = us.invoice(
        us_ids["amy"], [sales_line("10.005", us_ids["hours"]), sales_line("0.125", us_ids["hours"])]
    )
    amounts = [ln["Amount"] for ln in sales_lines(inv)]
    assert amounts == [Decimal("10.01"), Decimal("0.13")]
    assert inv["TotalAmt"] == Decimal("10.14")


def test_exact_decimal_sum(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §1 (amounts are numbers; spec: Decimal arithmetic): 0.10 + 0.20 totals exactly 0.30."""
    inv = us.invoice(
        us_ids["amy"], [sales_line("0.10", us_ids["hours"]), sales_line("0.20", us_ids["hours"])]
    )
    assert inv["TotalAmt"] == Decimal("0.30")


def test_percent_discount_reduces_total(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 DiscountLineDetail (PercentBased): 10 % off 150.00 ⇒ TotalAmt 135.00."""
    inv = us.invoice(
        us_ids["amy"],
        [
            sales_line("100.00", us_ids["hours"]),
            sales_line("50.00", us_ids["design"]),
            discount_line("15.00", percent="10"),
        ],
    )
    assert inv["TotalAmt"] == Decimal("135.00")
    assert inv["Balance"] == Decimal("135.00")
    discount = [ln for ln in inv["Line"] if ln["DetailType"] == "DiscountLineDetail"]
    assert len(discount) == 1
    assert discount[0]["Amount"] == Decimal("15.00")


def test_flat_discount_reduces_total(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 DiscountLineDetail (flat, PercentBased false): 150.00 - 20.00 ⇒ 130.00."""
    inv = us.invoice(
        us_ids["amy"],
        [
            sales_line("100.00", us_ids["hours"]),
            sales_line("50.00", us_ids["design"]),
            discount_line("20.00"),
        ],
    )
    assert inv["TotalAmt"] == Decimal("130.00")


def test_description_only_line_carries_no_amount(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 DescriptionOnly: a line without ItemRef is documentation; its Amount is ignored."""
    inv = us.invoice(
        us_ids["amy"],
        [
            sales_line("40.00", us_ids["hours"]),
            {"DetailType": "DescriptionOnly", "Description": "Thanks!", "Amount": Decimal("500.00")},
        ],
    )
    assert inv["TotalAmt"] == Decimal("40.00")
    desc = [ln for ln in inv["Line"] if ln["DetailType"] == "DescriptionOnly"]
    assert len(desc) == 1
    assert desc[0]["Description"] == "Thanks!"


def test_us_tax_on_taxable_lines_only(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 TaxCode (US) + spec: TAX/NON line codes, rate from TxnTaxDetail.TxnTaxCodeRef "2"
    (8.25 %) on the TAX lines: 100.00 TAX + 50.00 NON ⇒ tax 8.25, TotalAmt 158.25."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("100.00", us_ids["hours"], tax="TAX"), sales_line("50.00", us_ids["design"], tax="NON")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    detail = inv["TxnTaxDetail"]
    assert detail["TxnTaxCodeRef"]["value"] == "2"
    assert detail["TotalTax"] == Decimal("8.25")
    assert detail["TaxLine"], detail
    assert sum(tl["Amount"] for tl in detail["TaxLine"]) == Decimal("8.25")
    assert inv["TotalAmt"] == Decimal("158.25")
    assert inv["Balance"] == Decimal("158.25")
    codes = [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in sales_lines(inv)]
    assert codes == ["TAX", "NON"]


def test_us_tax_rounded_half_up_per_transaction(us: Api, us_ids: dict[str, str]) -> None:
    """Spec US tax (qbo-facts §2): rounded half-up once per transaction — 3 x 10.10 TAX at 8.25 %
    ⇒ 2.49975 ⇒ 2.50 (per-line rounding would give 2.49); 10.00 ⇒ 0.825 ⇒ 0.83 (not half-even 0.82)."""
    three = us.invoice(
        us_ids["amy"],
        [sales_line("10.10", us_ids["hours"], tax="TAX") for _ in range(3)],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    assert three["TxnTaxDetail"]["TotalTax"] == Decimal("2.50")
    assert three["TotalAmt"] == Decimal("32.80")
    half = us.invoice(
        us_ids["amy"],
        [sales_line("10.00", us_ids["hours"], tax="TAX")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    assert half["TxnTaxDetail"]["TotalTax"] == Decimal("0.83")
    assert half["TotalAmt"] == Decimal("10.83")


def test_us_discount_does_not_reduce_taxable_base_by_default(us: Api, us_ids: dict[str, str]) -> None:
    """Spec US tax (qbo-facts §2 ApplyTaxAfterDiscount): without ApplyTaxAfterDiscount the 10 % discount
    leaves the tax on 100.00 ⇒ 8.25, TotalAmt 100 - 10 + 8.25 = 98.25."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("100.00", us_ids["hours"], tax="TAX"), discount_line("10.00", percent="10")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("8.25")
    assert inv["TotalAmt"] == Decimal("98.25")


def test_us_apply_tax_after_discount(us: Api, us_ids: dict[str, str]) -> None:
    """Spec US tax (qbo-facts §2 ApplyTaxAfterDiscount true): tax on 90.00 ⇒ 7.425 ⇒ 7.43 half-up,
    TotalAmt 97.43."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("100.00", us_ids["hours"], tax="TAX"), discount_line("10.00", percent="10")],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
        ApplyTaxAfterDiscount=True,
    )
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("7.43")
    assert inv["TotalAmt"] == Decimal("97.43")


def test_ca_tax_excluded_per_line_tax_codes(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12 / §2 TaxCode (non-US): each line's TaxCodeRef is a real TaxCode; TaxExcluded ⇒ tax =
    net x rate per code: 100.00 HST 13 % + 50.00 GST 5 % ⇒ 13.00 + 2.50 = 15.50, TotalAmt 165.50."""
    inv = ca.invoice(
        ca_ids["amy"],
        [sales_line("100.00", ca_ids["hours"], tax="4"), sales_line("50.00", ca_ids["hours"], tax="3")],
        GlobalTaxCalculation="TaxExcluded",
    )
    assert inv["GlobalTaxCalculation"] == "TaxExcluded"
    detail = inv["TxnTaxDetail"]
    assert detail["TotalTax"] == Decimal("15.50")
    assert sorted(tl["Amount"] for tl in detail["TaxLine"]) == [Decimal("2.50"), Decimal("13.00")]
    assert inv["TotalAmt"] == Decimal("165.50")
    assert inv["Balance"] == Decimal("165.50")
    codes = [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in sales_lines(inv)]
    assert codes == ["4", "3"]


def test_ca_tax_inclusive_amounts_include_tax(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12 (TaxInclusive: line amounts include tax) + spec: 113.00 under HST 13 % ⇒ tax 13.00,
    TotalAmt 113.00."""
    inv = ca.invoice(
        ca_ids["amy"],
        [sales_line("113.00", ca_ids["hours"], tax="4")],
        GlobalTaxCalculation="TaxInclusive",
    )
    assert inv["GlobalTaxCalculation"] == "TaxInclusive"
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("13.00")
    assert inv["TotalAmt"] == Decimal("113.00")


def test_ca_exempt_code_zero_tax(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12 + spec seed: TaxCode "5" Exempt (0 %) ⇒ TotalTax 0."""
    inv = ca.invoice(
        ca_ids["amy"], [sales_line("80.00", ca_ids["hours"], tax="5")], GlobalTaxCalculation="TaxExcluded"
    )
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("0")
    assert inv["TotalAmt"] == Decimal("80.00")


def test_ca_missing_global_tax_calculation_defaults_tax_excluded(ca: Api, ca_ids: dict[str, str]) -> None:
    """Spec non-US tax (qbo-facts §12): missing GlobalTaxCalculation ⇒ TaxExcluded; GST 5 % on 100.00."""
    inv = ca.invoice(ca_ids["amy"], [sales_line("100.00", ca_ids["hours"], tax="3")])
    assert inv["GlobalTaxCalculation"] == "TaxExcluded"
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("5.00")
    assert inv["TotalAmt"] == Decimal("105.00")


def test_ca_missing_line_taxcode_is_6000(ca: Api, ctl: Control, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12: every taxable line on a non-US invoice needs a real TaxCodeRef; missing ⇒ 400 6000
    (spec wording "Make sure all your transactions have a GST/HST rate"); nothing created."""
    before = len(ctl.entities(CA_REALM, "Invoice"))
    resp = ca.post(
        "invoice",
        {
            "CustomerRef": {"value": ca_ids["amy"]},
            "GlobalTaxCalculation": "TaxExcluded",
            "Line": [sales_line("100.00", ca_ids["hours"], tax="3"), sales_line("20.00", ca_ids["hours"])],
        },
    )
    err = assert_fault(resp, "6000")
    assert "GST/HST" in f"{err['Message']} {err.get('Detail', '')}"
    assert len(ctl.entities(CA_REALM, "Invoice")) == before


def test_ca_unknown_taxcode_is_rejected(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12 (TaxCodeRef must be a real TaxCode Id) + spec: unknown code ⇒ 400 6000."""
    resp = ca.post(
        "invoice",
        {
            "CustomerRef": {"value": ca_ids["amy"]},
            "GlobalTaxCalculation": "TaxExcluded",
            "Line": [sales_line("100.00", ca_ids["hours"], tax="999")],
        },
    )
    assert_fault(resp, "6000")


def test_ca_us_pseudo_code_rejected(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12: CA lines need a real TaxCode Id; the US pseudo code "TAX" is not one ⇒ 400 6000."""
    resp = ca.post(
        "invoice",
        {
            "CustomerRef": {"value": ca_ids["amy"]},
            "GlobalTaxCalculation": "TaxExcluded",
            "Line": [sales_line("100.00", ca_ids["hours"], tax="TAX")],
        },
    )
    assert_fault(resp, "6000")


def test_ca_update_recomputes_tax(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §12 (drop TxnTaxDetail when changing amounts; QBO recomputes) + §3: new lines ⇒ new tax."""
    inv = ca.invoice(
        ca_ids["amy"], [sales_line("100.00", ca_ids["hours"], tax="3")], GlobalTaxCalculation="TaxExcluded"
    )
    resp = ca.post(
        "invoice",
        {
            "Id": inv["Id"],
            "SyncToken": inv["SyncToken"],
            "sparse": True,
            "Line": [sales_line("200.00", ca_ids["hours"], tax="4")],
        },
    )
    assert resp.status_code == 200, resp.text
    upd = loads(resp)["Invoice"]
    assert upd["TxnTaxDetail"]["TotalTax"] == Decimal("26.00")
    assert upd["TotalAmt"] == Decimal("226.00")
    assert upd["Balance"] == Decimal("226.00")
