"""Choosing the QBO tax code for a OneDesk invoice's taxes (domain/taxes.py): by rate, overridable, and
refused only when no code can carry the tax, naming what to create."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from qbo_sync.domain import qbo
from qbo_sync.domain.onedesk import Invoice, InvoiceLine, LineKind
from qbo_sync.domain.taxes import (
    NO_TAX,
    TaxCatalog,
    TaxChoice,
    TaxCombination,
    TaxMode,
    TaxNotCarried,
    automatic_code,
    catalog_codes,
    choose_tax,
)
from qbo_sync.domain.tenant import TaxOverride, TaxSettings
from tests.unit.builders import (
    AT,
    CA_CATALOG,
    CA_TAX,
    US_CATALOG,
    US_TAX,
    make_invoice,
    tax_code,
    tax_line,
    time_line,
)

STATE_AND_COUNTY = (tax_line("10.80", "6", "State tax"), tax_line("4.05", "2.25", "County tax"))  # on 180.00


def choose(
    invoice: Invoice,
    mode: TaxMode = TaxMode.US,
    settings: TaxSettings = US_TAX,
    catalog: TaxCatalog = US_CATALOG,
) -> TaxChoice:
    return choose_tax(invoice, mode, settings, catalog)


def not_carried(
    invoice: Invoice,
    mode: TaxMode = TaxMode.US,
    settings: TaxSettings = US_TAX,
    catalog: TaxCatalog = US_CATALOG,
) -> str:
    with pytest.raises(TaxNotCarried) as refused:
        choose(invoice, mode, settings, catalog)
    return refused.value.reason


def without(catalog: TaxCatalog, *code_ids: str) -> TaxCatalog:
    return catalog.model_copy(update={"codes": tuple(c for c in catalog.codes if c.code_id not in code_ids)})


def fixed_tax(amount: str, name: str = "Eco fee") -> InvoiceLine:
    return InvoiceLine(
        id="x-fixed",
        kind=LineKind.TAX,
        description=name,
        service_type=None,
        hours=None,
        rate=None,
        amount=Decimal(amount),
        tax_rate_percent=None,
    )


# ------------------------------------------------------------------------------------------ combinations


def test_a_combination_is_its_taxes_names_and_rates_in_a_stable_order() -> None:
    first = TaxCombination.of(make_invoice(time_line(), *STATE_AND_COUNTY))
    second = TaxCombination.of(
        make_invoice(
            time_line(), tax_line("4.05", "2.250", "county  TAX"), tax_line("10.80", "6.00", "State tax")
        )
    )
    assert first.key == second.key == "county tax@2.25% + state tax@6%"
    assert first.label == "County tax 2.25% + State tax 6%"
    assert first.rates == (Decimal("2.25"), Decimal(6))
    assert TaxCombination.of(make_invoice(time_line(), tax_line("9.00", "5", "GST 5%"))).label == "GST 5%"
    assert TaxCombination.of(make_invoice(time_line(), fixed_tax("3.00"))).rates is None
    assert NO_TAX.key == "" and NO_TAX.label == "No tax"


# ------------------------------------------------------------------------------------------ automatic


def test_the_code_with_exactly_the_invoices_rates_wins_over_one_with_the_same_total() -> None:
    # CA State (8.25 %) and Lakeside (6 % + 2.25 %) both total 8.25 %.
    single = choose(make_invoice(time_line(), tax_line("14.85", "8.25")))
    combined = choose(make_invoice(time_line(), *STATE_AND_COUNTY))

    assert (single.line_code, single.code and single.code.code_id) == ("TAX", "7")
    assert (combined.line_code, combined.code and combined.code.code_id) == ("TAX", "8")
    assert combined.expected_tax == Decimal("14.85")


def test_the_preferred_code_breaks_a_tie_between_codes_with_the_same_rates() -> None:
    twin = tax_code("2", "Another 8.25", ("22", "Another", "8.25"))
    catalog = US_CATALOG.model_copy(update={"codes": (*US_CATALOG.codes, twin)})
    invoice = make_invoice(time_line(), tax_line("14.85", "8.25"))

    assert choose(invoice, catalog=catalog).code == US_CATALOG.code("7")  # the default code
    preferring_twin = US_TAX.model_copy(update={"tax_code_id": "2"})
    assert choose(invoice, settings=preferring_twin, catalog=catalog).code == twin
    no_preference = US_TAX.model_copy(update={"tax_code_id": "NON"})
    assert choose(invoice, settings=no_preference, catalog=catalog).code == twin  # "Another..." < "CA State"


def test_a_code_with_the_same_total_is_used_when_its_rounding_gives_the_same_tax() -> None:
    # 180.00: 6 % + 2.25 % = 10.80 + 4.05 = 14.85 = 8.25 % of 180.00.
    choice = choose(make_invoice(time_line(), *STATE_AND_COUNTY), catalog=without(US_CATALOG, "8"))
    assert choice.code == US_CATALOG.code("7")


def test_a_code_with_the_same_total_but_another_rounding_is_refused_naming_the_combined_code() -> None:
    # 10.10: 6 % = 0.606 -> 0.61 and 2.25 % = 0.22725 -> 0.23 (0.84), but 8.25 % = 0.83325 -> 0.83.
    line = time_line(hours="1", rate="10.10", amount="10.10")
    invoice = make_invoice(line, tax_line("0.61", "6", "State tax"), tax_line("0.23", "2.25", "County tax"))

    assert choose(invoice).code == US_CATALOG.code("8")
    assert not_carried(invoice, catalog=without(US_CATALOG, "8")) == (
        "Invoice INV-0001: QuickBooks Online's tax code CA State (8.25%) charges 0.83 on 10.10, but "
        "OneDesk's County tax 2.25% + State tax 6% come to 0.84 (difference 0.01) because each rate is "
        "rounded separately. Create a combined tax code of County tax 2.25% + State tax 6% in QuickBooks "
        "Online, then copy again."
    )


def test_canadian_gst_and_pst_need_the_combined_code_and_its_absence_says_what_to_create() -> None:
    invoice = make_invoice(
        time_line(), tax_line("9.00", "5", "GST"), tax_line("12.60", "7", "PST"), currency="CAD"
    )

    choice = choose(invoice, TaxMode.PER_LINE, CA_TAX, CA_CATALOG)
    assert (choice.line_code, choice.expected_tax) == ("6", Decimal("21.60"))
    assert not_carried(invoice, TaxMode.PER_LINE, CA_TAX, without(CA_CATALOG, "6")) == (
        "Invoice INV-0001 charges GST 5% + PST 7%, but no QuickBooks Online tax code has these rates. "
        "Create a combined tax code of GST 5% + PST 7% in QuickBooks Online, then copy again."
    )


def test_hst_with_gst_as_the_default_code_uses_hst() -> None:
    gst_default = CA_TAX.model_copy(
        update={"tax_code_id": "4", "tax_code_name": "GST", "rate_percent": Decimal(5)}
    )
    invoice = make_invoice(time_line(), tax_line("23.40", "13", "HST"), currency="CAD")
    assert choose(invoice, TaxMode.PER_LINE, gst_default, CA_CATALOG).line_code == "5"


def test_a_rate_no_code_has_is_refused_naming_the_code_to_create() -> None:
    assert not_carried(make_invoice(time_line(), tax_line("10.80", "6", "Sales tax"))) == (
        "Invoice INV-0001 charges Sales tax 6%, but no QuickBooks Online tax code has this rate. "
        "Create a tax code with the rate 6% (Sales tax 6%) in QuickBooks Online, then copy again."
    )


def test_a_tax_amount_that_is_not_its_rate_on_the_base_is_refused_with_the_difference() -> None:
    assert not_carried(make_invoice(time_line(), tax_line("15.00", "8.25"))) == (
        "Invoice INV-0001: tax at 8.25% on 180.00 is 14.85 but OneDesk shows 15.00 (difference 0.15). "
        "Nothing was copied."
    )


def test_untaxed_invoices() -> None:
    assert choose(make_invoice(time_line())) == TaxChoice("NON", None, Decimal("0.00"))
    assert choose(make_invoice(time_line(), tax_line("0.00", "0", "Zero"))).line_code == "NON"
    per_line = choose(make_invoice(time_line()), TaxMode.PER_LINE, CA_TAX, CA_CATALOG)
    assert (per_line.line_code, per_line.expected_tax) == ("3", Decimal("0.00"))
    assert not_carried(make_invoice(time_line()), TaxMode.PER_LINE, CA_TAX, without(CA_CATALOG, "3")) == (
        "Invoice INV-0001 has no tax, but the QuickBooks Online company has no zero-rated tax code to put on "
        "its lines. Add one in QuickBooks Online, then copy again."
    )


def test_automated_sales_tax_needs_no_code() -> None:
    taxed = choose(
        make_invoice(time_line(), tax_line("12.60", "7")), TaxMode.US_AUTOMATED, catalog=TaxCatalog()
    )
    assert taxed == TaxChoice("TAX", None, Decimal("12.60"), qbo_computes=True)
    untaxed = choose(make_invoice(time_line()), TaxMode.US_AUTOMATED, catalog=TaxCatalog())
    assert untaxed == TaxChoice("NON", None, Decimal("0.00"))


# ------------------------------------------------------------------------------------------ overrides


def test_the_admins_choice_wins_over_the_automatic_one() -> None:
    invoice = make_invoice(time_line(), *STATE_AND_COUNTY)
    key = TaxCombination.of(invoice).key
    chosen = US_TAX.model_copy(update={"overrides": (TaxOverride(key=key, code_id="7"),)})
    assert choose(invoice, settings=chosen).code == US_CATALOG.code("7")


def test_an_override_that_cannot_reproduce_the_tax_or_is_gone_is_refused() -> None:
    invoice = make_invoice(time_line(), tax_line("14.85", "8.25", "Sales tax"))
    key = TaxCombination.of(invoice).key
    to_indiana = US_TAX.model_copy(update={"overrides": (TaxOverride(key=key, code_id="9"),)})
    assert not_carried(invoice, settings=to_indiana) == (
        "Invoice INV-0001: the tax code Indiana (7%) chosen for Sales tax 8.25% under Administration > "
        "Financials charges 12.60 on 180.00 but OneDesk shows 14.85 (difference 2.25). Nothing was copied."
    )
    to_deleted = US_TAX.model_copy(update={"overrides": (TaxOverride(key=key, code_id="99"),)})
    assert "no longer exists or is inactive" in not_carried(invoice, settings=to_deleted)


def test_a_fixed_amount_tax_needs_the_admins_choice() -> None:
    invoice = make_invoice(time_line(), fixed_tax("12.60"))
    assert not_carried(invoice) == (
        "Invoice INV-0001 charges Eco fee (fixed amount), a tax without a rate, and QuickBooks Online "
        "computes tax from rates. Choose the QuickBooks Online tax code for it under Administration > "
        "Financials, then copy again."
    )
    key = TaxCombination.of(invoice).key
    assert key == "eco fee@fixed"
    chosen = US_TAX.model_copy(update={"overrides": (TaxOverride(key=key, code_id="9"),)})
    assert choose(invoice, settings=chosen).code == US_CATALOG.code("9")  # 7 % of 180.00 = 12.60


def test_the_no_tax_row_can_choose_another_zero_rated_code() -> None:
    no_vat = tax_code("10", "No VAT", ("101", "No VAT", "0"))
    catalog = CA_CATALOG.model_copy(update={"codes": (*CA_CATALOG.codes, no_vat)})
    assert automatic_code(NO_TAX, catalog, None) == CA_CATALOG.code("3")  # "Exempt" < "No VAT"
    chosen = CA_TAX.model_copy(update={"overrides": (TaxOverride(key="", code_id="10"),)})
    assert choose(make_invoice(time_line()), TaxMode.PER_LINE, chosen, catalog).line_code == "10"


# ------------------------------------------------------------------------------------------ catalog


def test_catalog_codes_are_active_sales_codes_with_readable_rates_never_tax_or_non() -> None:
    rates = [
        qbo.TaxRate(Id="1", Name="State", RateValue=Decimal(6)),
        qbo.TaxRate(Id="2", Name="County", RateValue=Decimal("2.25")),
        qbo.TaxRate(Id="3", Name="No value"),
    ]

    def code(code_id: str, name: str, *rate_ids: str, active: bool = True) -> qbo.TaxCode:
        details = [qbo.TaxRateDetail(TaxRateRef=qbo.Ref(value=rate_id)) for rate_id in rate_ids]
        return qbo.TaxCode(
            Id=code_id, Name=name, Active=active, SalesTaxRateList=qbo.TaxRateList(TaxRateDetail=details)
        )

    codes = [
        code("TAX", "TAX"),
        code("NON", "NON"),
        code("5", "Lakeside", "1", "2"),
        code("6", "Old", "1", active=False),
        code("7", "Purchases only"),
        code("8", "Unreadable", "3"),
        code("9", "County", "2"),
    ]
    found = catalog_codes(codes, rates)
    assert [(c.code_id, c.percent, [r.rate_id for r in c.rates]) for c in found] == [
        ("9", Decimal("2.25"), ["2"]),
        ("5", Decimal("8.25"), ["1", "2"]),
    ]


def test_the_catalog_goes_stale_after_ten_minutes() -> None:  # CATALOG_MAX_AGE
    assert TaxCatalog().is_stale(AT)
    assert not US_CATALOG.is_stale(AT + timedelta(minutes=9, seconds=59))
    assert US_CATALOG.is_stale(AT + timedelta(minutes=10))
