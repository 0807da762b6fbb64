"""Tax codes beyond one rate: US combined codes, Canada's GST/PST BC, UK VAT, US Automated Sales Tax, and
the precision QBO keeps for Qty and UnitPrice. Each test states the QBO fact it checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from .conftest import CA_REALM, US_REALM, Api, Control, assert_fault, sales_line, sales_lines


def new_company(ctl: Control, base_url: str, country: str, **options: Any) -> tuple[Api, dict[str, str]]:
    realm = ctl.ok("POST", "/_sandbox/companies", {"name": f"{country} test", "country": country, **options})[
        "realmId"
    ]
    api = Api(base_url, realm, ctl.token(realm)["access_token"])
    ids = {
        "amy": ctl.find_id(realm, "Customer", "Amy's Bird Sanctuary"),
        "hours": ctl.find_id(realm, "Item", "Hours"),
    }
    return api, ids


def tax_lines(invoice: dict[str, Any]) -> dict[str, Decimal]:
    """TaxLine amounts by TaxRate name."""
    return {
        line["TaxLineDetail"]["TaxRateRef"]["name"]: line["Amount"]
        for line in invoice["TxnTaxDetail"]["TaxLine"]
    }


# ------------------------------------------------------------------------------------------ US combined


def test_a_us_tax_code_groups_several_rates_read_through_queries(us: Api) -> None:
    """Fact: a TaxCode's SalesTaxRateList.TaxRateDetail lists TaxRateRefs, and each TaxRate has a RateValue;
    both are read with `select * from TaxCode` / `TaxRate` (seed: "3" Lakeside = 6 % + 2.25 %)."""
    codes = {c["Id"]: c for c in us.rows("SELECT * FROM TaxCode", "TaxCode")}
    rates = {r["Id"]: r for r in us.rows("SELECT * FROM TaxRate", "TaxRate")}
    lakeside = codes["3"]
    parts = [
        rates[d["TaxRateRef"]["value"]]["RateValue"] for d in lakeside["SalesTaxRateList"]["TaxRateDetail"]
    ]
    assert (lakeside["Name"], parts) == ("Lakeside", [Decimal(6), Decimal("2.25")])
    assert {"TAX", "NON", "2", "3", "4"} <= set(codes)


def test_a_us_combined_code_computes_and_rounds_each_rate_separately(us: Api, us_ids: dict[str, str]) -> None:
    """Fact: US lines carry TAX/NON and one TxnTaxDetail.TxnTaxCodeRef sets the rates; QBO computes the tax
    per TaxRate (a TaxLine each), rounded half-up once per rate per transaction. On 10.10: 6 % = 0.606 ->
    0.61 and 2.25 % = 0.22725 -> 0.23, so 0.84, where the single 8.25 % code gives 0.83325 -> 0.83."""
    lines = [sales_line("10.10", us_ids["hours"], tax="TAX")]
    combined = us.invoice(us_ids["amy"], lines, TxnTaxDetail={"TxnTaxCodeRef": {"value": "3"}})
    single = us.invoice(us_ids["amy"], lines, TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}})

    assert tax_lines(combined) == {"Lakeside State": Decimal("0.61"), "Lakeside County": Decimal("0.23")}
    assert (combined["TxnTaxDetail"]["TotalTax"], combined["TotalAmt"]) == (Decimal("0.84"), Decimal("10.94"))
    assert (single["TxnTaxDetail"]["TotalTax"], single["TotalAmt"]) == (Decimal("0.83"), Decimal("10.93"))


# ------------------------------------------------------------------------------------------ Canada


def test_canadian_gst_pst_bc_is_one_code_with_two_rates_and_gst_is_one_tax_line(
    ca: Api, ca_ids: dict[str, str]
) -> None:
    """Facts: non-US lines each carry a real TaxCode Id; PST comes as the combined code "GST/PST BC"
    (GST 5 % + PST 7 %); QBO computes TxnTaxDetail with one TaxLine per TaxRate (Amount, TaxLineDetail
    {TaxRateRef, PercentBased, TaxPercent, NetAmountTaxable}), so GST from two codes is one line."""
    invoice = ca.invoice(
        ca_ids["amy"],
        [sales_line("100.00", ca_ids["hours"], tax="6"), sales_line("40.00", ca_ids["hours"], tax="3")],
        GlobalTaxCalculation="TaxExcluded",
    )
    assert tax_lines(invoice) == {"GST": Decimal("7.00"), "PST BC": Decimal("7.00")}
    gst = next(
        t for t in invoice["TxnTaxDetail"]["TaxLine"] if t["TaxLineDetail"]["TaxRateRef"]["name"] == "GST"
    )
    assert gst["TaxLineDetail"]["NetAmountTaxable"] == Decimal("140.00")
    assert gst["TaxLineDetail"]["PercentBased"] is True and gst["TaxLineDetail"]["TaxPercent"] == Decimal(5)
    assert (invoice["TxnTaxDetail"]["TotalTax"], invoice["TotalAmt"]) == (Decimal("14.00"), Decimal("154.00"))


def test_a_discount_is_taxed_away_exactly_under_one_code(ca: Api, ca_ids: dict[str, str]) -> None:
    """Fact: a discount line reduces the taxable base (non-US). With every line under one code the base is
    exactly subtotal - discount: (100.00 + 74.50 - 10.00) x 5 % = 8.225 -> 8.23 (half-up), the amount
    OneDesk charges (the emulator spreads a discount over several codes in cents, the last one taking the
    remainder)."""
    invoice = ca.invoice(
        ca_ids["amy"],
        [
            sales_line("100.00", ca_ids["hours"], tax="3"),
            sales_line("74.50", ca_ids["hours"], tax="3"),
            {"DetailType": "DiscountLineDetail", "Amount": Decimal("10.00"), "DiscountLineDetail": {}},
        ],
        GlobalTaxCalculation="TaxExcluded",
    )
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("8.23")
    assert invoice["TotalAmt"] == Decimal("172.73")


def test_canadian_codes_are_seeded(ctl: Control) -> None:
    """Facts: Canada's GST 5 %, HST ON 13 %, a 0 % code, and GST/PST BC (5 % + 7 %)."""
    names = {c["Id"]: c["Name"] for c in ctl.entities(CA_REALM, "TaxCode")}
    assert names == {"3": "GST", "4": "HST ON", "5": "Exempt", "6": "GST/PST BC"}


# ------------------------------------------------------------------------------------------ UK VAT


def test_a_uk_company_has_vat_codes_gbp_and_needs_a_vat_rate_on_every_line(
    ctl: Control, base_url: str
) -> None:
    """Facts: UK VAT codes are 20.0% S, 5.0% R, 0.0% Z and No VAT; like Canada, every line needs a real
    TaxCode and QBO computes the VAT; a line without one is refused (400, 6000)."""
    uk, ids = new_company(ctl, base_url, "GB")
    assert uk.read("CompanyInfo", uk.realm)["Country"] == "GB"
    prefs = uk.rows("SELECT * FROM Preferences", "Preferences")[0]
    assert prefs["CurrencyPrefs"]["HomeCurrency"]["value"] == "GBP"
    codes = {c["Name"]: c["Id"] for c in uk.rows("SELECT * FROM TaxCode", "TaxCode")}
    assert set(codes) == {"20.0% S", "5.0% R", "0.0% Z", "No VAT"}

    invoice = uk.invoice(ids["amy"], [sales_line("100.00", ids["hours"], tax=codes["20.0% S"])])
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    assert (invoice["TxnTaxDetail"]["TotalTax"], invoice["TotalAmt"]) == (Decimal("20.00"), Decimal("120.00"))
    assert invoice["CurrencyRef"]["value"] == "GBP"
    untaxed = uk.invoice(ids["amy"], [sales_line("100.00", ids["hours"], tax=codes["No VAT"])])
    assert untaxed["TotalAmt"] == Decimal("100.00")

    refused = uk.post(
        "invoice", {"CustomerRef": {"value": ids["amy"]}, "Line": [sales_line("1.00", ids["hours"])]}
    )
    error = assert_fault(refused, "6000")
    assert "VAT rate" in f"{error['Message']} {error.get('Detail', '')}"


# ------------------------------------------------------------------------------------------ AST


def test_automated_sales_tax_is_announced_in_preferences(ctl: Control, base_url: str) -> None:
    """Fact: a US company with Automated Sales Tax has Preferences.TaxPrefs.PartnerTaxEnabled = true
    (minor version >= 3); the seeded companies do not; AST exists only in the US."""
    ast, _ = new_company(ctl, base_url, "US", automated_sales_tax=True)
    assert ast.rows("SELECT * FROM Preferences", "Preferences")[0]["TaxPrefs"]["PartnerTaxEnabled"] is True
    us = Api(base_url, US_REALM, ctl.token(US_REALM)["access_token"])
    assert us.rows("SELECT * FROM Preferences", "Preferences")[0]["TaxPrefs"]["PartnerTaxEnabled"] is False
    refused = ctl.call(
        "POST", "/_sandbox/companies", {"name": "x", "country": "CA", "automated_sales_tax": True}
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("ship_to", "code_name", "tax"),
    [
        (None, "California (AST)", Decimal("8.25")),  # the customer's ShipAddr: Bayshore, CA (7.25 % + 1 %)
        ("NY", "New York City (AST)", Decimal("8.88")),  # 4.00 + 4.50 + 0.375 -> 0.38
        ("OR", None, Decimal("0.00")),  # no sales tax there
    ],
)
def test_automated_sales_tax_computes_from_the_destination_and_overrides_the_code_sent(
    ctl: Control, base_url: str, ship_to: str | None, code_name: str | None, tax: Decimal
) -> None:
    """Facts (Intuit's blog on AST): the engine computes tax from the shipping address (else the company
    address) and assigns a TaxCode it creates; a code the app assigns is overridden. Lines still say
    TAX/NON. The rates are the emulator's samples (Intuit's sandbox has no AST to compare with)."""
    ast, ids = new_company(ctl, base_url, "US", automated_sales_tax=True)
    extra: dict[str, Any] = {"TxnTaxDetail": {"TxnTaxCodeRef": {"value": "999"}}}  # overridden, not checked
    if ship_to:
        extra["ShipAddr"] = {"Line1": "1 Main St", "CountrySubDivisionCode": ship_to}
    invoice = ast.invoice(
        ids["amy"],
        [sales_line("100.00", ids["hours"], tax="TAX"), sales_line("50.00", ids["hours"], tax="NON")],
        **extra,
    )
    detail = invoice["TxnTaxDetail"]
    assert detail["TotalTax"] == tax
    assert invoice["TotalAmt"] == Decimal("150.00") + tax
    if code_name is None:
        assert "TxnTaxCodeRef" not in detail
    else:
        assert detail["TxnTaxCodeRef"]["name"] == code_name
        assert code_name in {c["Name"] for c in ast.rows("SELECT * FROM TaxCode", "TaxCode")}


def test_automated_sales_tax_without_any_address_uses_the_company_address(
    ctl: Control, base_url: str
) -> None:
    """Fact: without a shipping address the company address is the destination (the sandbox company is in
    San Pablo, CA). A customer created through the API without an address is one such case."""
    ast, ids = new_company(ctl, base_url, "US", automated_sales_tax=True)
    customer = ast.create("Customer", {"DisplayName": "No Address Inc"})
    invoice = ast.invoice(
        customer["Id"], [sales_line("200.00", ids["hours"], tax="TAX")], ApplyTaxAfterDiscount=True
    )
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("16.50")
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "California (AST)"


# ------------------------------------------------------------------------------------------ Qty, UnitPrice


def test_qty_and_unit_price_keep_seven_decimals(us: Api, us_ids: dict[str, str]) -> None:
    """Fact (integrators' documentation; lines entered in QBO's UI come back with seven decimals): QBO keeps
    seven decimal places of Qty and UnitPrice and drops the rest; the Amount must still be
    round_half_up(Qty x UnitPrice, 2). 3 x 33.3333333 = 99.9999999 -> 100.00."""
    kept = us.invoice(us_ids["amy"], [sales_line("100.00", us_ids["hours"], qty="3", price="33.3333333")])
    detail = sales_lines(kept)[0]["SalesItemLineDetail"]
    assert (detail["Qty"], detail["UnitPrice"]) == (Decimal(3), Decimal("33.3333333"))

    cut = us.invoice(us_ids["amy"], [sales_line("100.00", us_ids["hours"], qty="3", price="33.333333349")])
    assert sales_lines(cut)[0]["SalesItemLineDetail"]["UnitPrice"] == Decimal("33.3333333")

    # The check uses what is kept: 100000 x 0.00000009 would be 0.009 -> 0.01, but 0.00000009 keeps
    # nothing at seven decimals, so the Amount 0.01 is not Qty x UnitPrice.
    resp = us.post(
        "invoice",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "Line": [sales_line("0.01", us_ids["hours"], qty="100000", price="0.00000009")],
        },
    )
    error = assert_fault(resp, "6000")
    assert "Amount is not equal to UnitPrice * Qty" in f"{error['Message']} {error.get('Detail', '')}"
