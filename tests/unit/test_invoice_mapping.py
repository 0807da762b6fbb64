"""Money rules and the OneDesk -> QBO invoice mapping (docs/product.md P5, P10, P13-P16); the choice of tax
code itself is tested in test_taxes.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbo_sync.domain import qbo
from qbo_sync.domain.invoice_mapping import (
    CompanyProfile,
    CopyRefused,
    PlannedInvoice,
    plan_invoice,
)
from qbo_sync.domain.matching import CUSTOM_CHARGE_ITEM
from qbo_sync.domain.money import fits_qty_price, line_amount, percent_of, to_cents, unit_price_for
from qbo_sync.domain.onedesk import Invoice, InvoiceStatus
from qbo_sync.domain.taxes import TaxCatalog, TaxNotCarried, choose_tax
from qbo_sync.domain.tenant import TenantSettings
from tests.unit.builders import (
    CA_CATALOG,
    CA_TAX,
    US_CATALOG,
    ast_company,
    ca_company,
    custom_line,
    discount_line,
    make_invoice,
    organization,
    settings,
    tax_line,
    time_line,
    us_company,
)

ITEMS = {"Support": "11", "Design": "12", CUSTOM_CHARGE_ITEM: "13"}


def plan(
    invoice: Invoice,
    company: CompanyProfile | None = None,
    tenant_settings: TenantSettings | None = None,
    catalog: TaxCatalog | None = None,
) -> PlannedInvoice:
    """The tax chosen as a copy chooses it (domain/taxes.py), then the invoice planned with it."""
    company = company or us_company()
    tenant_settings = tenant_settings or settings()
    catalog = catalog or (US_CATALOG if company.is_us else CA_CATALOG)
    tax = choose_tax(invoice, company.tax_mode, tenant_settings.tax, catalog)
    return plan_invoice(invoice, company, tax, "58", ITEMS)


def refusal(
    invoice: Invoice,
    company: CompanyProfile | None = None,
    tenant_settings: TenantSettings | None = None,
) -> str:
    with pytest.raises((CopyRefused, TaxNotCarried)) as refused:
        plan(invoice, company, tenant_settings)
    assert isinstance(refused.value, CopyRefused | TaxNotCarried)
    return refused.value.reason


def sales_details(planned: PlannedInvoice) -> list[qbo.SalesItemLineDetail]:
    return [line.SalesItemLineDetail for line in planned.body.Line if line.SalesItemLineDetail is not None]


# ------------------------------------------------------------------------------------------ money


def test_hours_times_rate_rounds_half_up_to_the_cent() -> None:
    assert line_amount(Decimal("1.333"), Decimal("75.00")) == Decimal("99.98")
    assert to_cents(Decimal("0.125")) == Decimal("0.13")  # half-even would give 0.12
    assert to_cents(Decimal("-0.125")) == Decimal("-0.13")
    assert percent_of(Decimal("99.98"), Decimal("8.25")) == Decimal("8.25")  # 8.24835


def test_time_line_carries_qty_unit_price_and_exact_amount() -> None:
    line = time_line(hours="1.333", rate="75.00", amount="99.98")
    planned = plan(make_invoice(line))

    [sales] = planned.body.Line
    assert sales.DetailType == "SalesItemLineDetail"
    assert sales.Amount == Decimal("99.98")
    assert sales.SalesItemLineDetail is not None
    assert sales.SalesItemLineDetail.Qty == Decimal("1.333")
    assert sales.SalesItemLineDetail.UnitPrice == Decimal("75.00")
    assert planned.expected_total == Decimal("99.98")
    payload_line = planned.body.payload()["Line"][0]  # type: ignore[index]
    assert isinstance(payload_line["Amount"], Decimal)


def test_qbo_keeps_seven_decimals_of_qty_and_unit_price() -> None:
    assert fits_qty_price(Decimal("1.3333333")) and fits_qty_price(Decimal("1.50000000"))
    assert not fits_qty_price(Decimal("1.33333333"))
    assert unit_price_for(Decimal("100.00"), Decimal("3")) == Decimal("33.3333333")
    assert unit_price_for(Decimal("250.00"), Decimal("2")) == Decimal("125")
    assert unit_price_for(Decimal("200.00"), Decimal("2")) == Decimal("100")  # not 1E+2


@pytest.mark.parametrize(
    ("hours", "rate", "amount", "unit_price"),
    [
        ("2", "100", "250.00", "125"),  # a monthly minimum above hours x rate
        ("1.333", "75", "100.00", "75.0187547"),  # a fixed-fee task: 1.333 x 75.0187547 = 100.0000000...
        ("3", "30", "100.00", "33.3333333"),  # 3 x 33.3333333 = 99.9999999 -> 100.00
        ("0.1", "10", "0.01", "0.1"),
    ],
)
def test_amount_other_than_hours_times_rate_keeps_the_hours_with_a_derived_unit_price(
    hours: str, rate: str, amount: str, unit_price: str
) -> None:
    line = time_line(description="Monthly support", hours=hours, rate=rate, amount=amount)
    planned = plan(make_invoice(line))

    [sales] = planned.body.Line
    assert sales.Amount == Decimal(amount)
    assert sales.Description == "Monthly support"
    assert sales.SalesItemLineDetail is not None
    qty, price = sales.SalesItemLineDetail.Qty, sales.SalesItemLineDetail.UnitPrice
    assert (qty, price) == (Decimal(hours), Decimal(unit_price))
    assert qty is not None and price is not None
    assert line_amount(qty, price) == Decimal(amount)  # what QBO checks
    assert planned.expected_total == Decimal(amount)


@pytest.mark.parametrize(
    ("hours", "amount", "shown"),
    [
        ("0", "50.00", "0"),  # a minimum charge with no time logged
        ("1.12345678", "10.00", "1.12345678"),  # hours QBO would cut to seven decimals
    ],
)
def test_amount_no_unit_price_can_reproduce_is_one_unit_with_the_hours_in_the_description(
    hours: str, amount: str, shown: str
) -> None:
    line = time_line(description="Retainer", hours=hours, rate="120", amount=amount)
    [sales] = plan(make_invoice(line)).body.Line

    assert sales.Amount == Decimal(amount)
    assert sales.Description == f"Retainer ({shown} h)"
    assert sales.SalesItemLineDetail is not None
    assert (sales.SalesItemLineDetail.Qty, sales.SalesItemLineDetail.UnitPrice) == (
        Decimal(1),
        Decimal(amount),
    )


def test_ticket_name_is_the_description_and_service_type_the_item() -> None:
    planned = plan(
        make_invoice(
            time_line(description="Ticket #88 Printer jam", service_type="Support"),
            time_line(
                description="Task: new logo", service_type="Design", hours="2", rate="95", amount="190.00"
            ),
        )
    )
    assert [line.Description for line in planned.body.Line] == ["Ticket #88 Printer jam", "Task: new logo"]
    assert [(d.ItemRef.value, d.ItemRef.name) for d in sales_details(planned)] == [
        ("11", "Support"),
        ("12", "Design"),
    ]
    assert planned.body.CustomerRef.value == "58"


def test_custom_line_without_service_type_uses_the_custom_charge_item() -> None:
    planned = plan(make_invoice(time_line(), custom_line(amount="50.00")))

    custom = planned.body.Line[1]
    assert custom.Amount == Decimal("50.00")
    assert custom.Description == "Server setup fee"
    assert custom.SalesItemLineDetail is not None
    assert custom.SalesItemLineDetail.ItemRef == qbo.Ref(value="13", name="OneDesk custom charge")
    assert custom.SalesItemLineDetail.Qty is None
    assert custom.SalesItemLineDetail.UnitPrice is None
    assert planned.expected_total == Decimal("230.00")


def test_each_discount_keeps_its_label_as_a_text_line_and_qbo_gets_their_sum() -> None:
    invoice = make_invoice(
        time_line(),
        discount_line("-10.00", "Loyalty"),
        discount_line("-5.50", "Early payment"),
    )
    planned = plan(invoice)

    assert [line.DetailType for line in planned.body.Line] == [
        "SalesItemLineDetail",
        "DescriptionOnly",
        "DescriptionOnly",
        "DiscountLineDetail",
    ]
    texts = [line for line in planned.body.Line if line.DetailType == "DescriptionOnly"]
    assert [(line.Description, line.Amount) for line in texts] == [
        ("Loyalty: -10.00", None),
        ("Early payment: -5.50", None),
    ]
    [discount] = [line for line in planned.body.Line if line.DetailType == "DiscountLineDetail"]
    assert discount.Amount == Decimal("15.50")
    assert discount.Description == "Loyalty; Early payment"
    assert discount.DiscountLineDetail == qbo.DiscountLineDetail(PercentBased=False)
    assert planned.expected_total == Decimal("164.50")


def test_a_single_discount_is_labelled_too() -> None:
    planned = plan(make_invoice(time_line(), discount_line("-20.00", "Spring offer")))

    assert [(line.DetailType, line.Description) for line in planned.body.Line[1:]] == [
        ("DescriptionOnly", "Spring offer: -20.00"),
        ("DiscountLineDetail", "Spring offer"),
    ]


# ------------------------------------------------------------------------------------------ tax


def test_us_invoice_with_tax_uses_the_tax_engine_after_discount() -> None:
    # 200.00 - 20.00 = 180.00 taxable; 8.25 % of it = 14.85.
    invoice = make_invoice(
        time_line(hours="2", rate="100", amount="200.00"),
        discount_line("-20.00"),
        tax_line("14.85", "8.25"),
    )
    planned = plan(invoice)

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="TAX")]
    assert planned.body.TxnTaxDetail == qbo.TxnTaxDetail(TxnTaxCodeRef=qbo.Ref(value="7"))
    assert planned.body.ApplyTaxAfterDiscount is True
    assert planned.body.GlobalTaxCalculation is None
    assert planned.expected_tax == Decimal("14.85")
    assert planned.expected_total == Decimal("194.85")
    # Tax is never booked as an income line.
    assert "TaxLineDetail" not in {line.DetailType for line in planned.body.Line}
    assert not any("tax" in (line.Description or "").casefold() for line in planned.body.Line)


def test_us_invoice_with_a_state_and_a_county_rate_uses_the_combined_code() -> None:
    # 180.00 x 6 % = 10.80 and 180.00 x 2.25 % = 4.05: QBO's "Lakeside" code (6 % + 2.25 %).
    invoice = make_invoice(
        time_line(), tax_line("10.80", "6", "State tax"), tax_line("4.05", "2.25", "County tax")
    )
    planned = plan(invoice)

    assert planned.body.TxnTaxDetail == qbo.TxnTaxDetail(TxnTaxCodeRef=qbo.Ref(value="8"))
    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="TAX")]
    assert planned.expected_total == Decimal("194.85")


def test_us_invoice_at_another_rate_than_the_default_code_uses_the_code_with_that_rate() -> None:
    planned = plan(make_invoice(time_line(), tax_line("12.60", "7")))
    assert planned.body.TxnTaxDetail == qbo.TxnTaxDetail(TxnTaxCodeRef=qbo.Ref(value="9"))


def test_us_invoice_without_tax_marks_lines_non_taxable() -> None:
    planned = plan(make_invoice(time_line(), custom_line()))

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="NON"), qbo.Ref(value="NON")]
    assert planned.body.TxnTaxDetail is None
    assert planned.body.ApplyTaxAfterDiscount is None
    assert planned.expected_tax == Decimal("0.00")


def test_automated_sales_tax_marks_lines_taxable_and_sends_no_code() -> None:
    planned = plan(make_invoice(time_line(), tax_line("12.60", "7")), ast_company(), catalog=TaxCatalog())

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="TAX")]
    assert planned.body.TxnTaxDetail is None  # QBO's engine picks the code from the addresses
    assert planned.body.ApplyTaxAfterDiscount is True
    assert planned.qbo_computes_tax is True
    assert (planned.expected_tax, planned.expected_total) == (Decimal("12.60"), Decimal("192.60"))


def test_ca_invoice_puts_the_tax_code_on_every_line_tax_excluded() -> None:
    invoice = make_invoice(time_line(), custom_line(), tax_line("29.90", "13", "HST"), currency="CAD")
    planned = plan(invoice, ca_company(), settings(CA_TAX))

    assert planned.body.GlobalTaxCalculation == "TaxExcluded"
    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="5"), qbo.Ref(value="5")]
    assert planned.body.TxnTaxDetail is None
    assert planned.body.ApplyTaxAfterDiscount is None
    assert planned.expected_tax == Decimal("29.90")
    assert planned.expected_total == Decimal("259.90")
    assert planned.warnings == ()


def test_ca_invoice_with_gst_and_pst_uses_the_combined_code_on_every_line() -> None:
    invoice = make_invoice(
        time_line(), tax_line("9.00", "5", "GST"), tax_line("12.60", "7", "PST"), currency="CAD"
    )
    planned = plan(invoice, ca_company(), settings(CA_TAX))

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="6")]
    assert planned.expected_total == Decimal("201.60")


def test_untaxed_ca_invoice_uses_the_zero_rated_code() -> None:
    planned = plan(make_invoice(time_line(), currency="CAD"), ca_company(), settings(CA_TAX))

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="3")]
    assert planned.body.GlobalTaxCalculation == "TaxExcluded"


def test_total_mismatch_is_refused_with_the_difference() -> None:
    reason = refusal(make_invoice(time_line(), total="180.01"))
    assert reason == (
        "Invoice INV-0001: QuickBooks Online would total 180.00 but OneDesk shows 180.01 "
        "(difference 0.01). Nothing was copied."
    )


# ------------------------------------------------------------------------------------------ status, numbers


@pytest.mark.parametrize("status", [InvoiceStatus.DRAFT, InvoiceStatus.VOID, InvoiceStatus.PAID])
def test_only_open_invoices_are_copied(status: InvoiceStatus) -> None:
    reason = refusal(make_invoice(status=status))
    assert reason == (
        f"Invoice INV-0001 is {status.value}: only Open invoices can be copied to QuickBooks Online."
    )


def test_invoice_without_billable_lines_is_refused() -> None:
    assert refusal(make_invoice(discount_line("0.00"))) == "Invoice INV-0001 has no billable lines to copy."


def test_doc_number_is_left_to_qbo_without_custom_transaction_numbers() -> None:
    planned = plan(make_invoice(number="INV-2026-000000000042"))  # 21 characters; unused anyway

    assert planned.body.DocNumber is None
    assert planned.body.PrivateNote == "Copied from OneDesk invoice INV-2026-000000000042 [onedesk:1003]"


def test_doc_number_is_the_onedesk_number_with_custom_transaction_numbers() -> None:
    planned = plan(make_invoice(number="INV-2026-000000000042"), us_company(custom_txn_numbers=True))
    assert planned.body.DocNumber == "INV-2026-000000000042"


def test_doc_number_longer_than_21_characters_is_refused_not_truncated() -> None:
    reason = refusal(make_invoice(number="INV-2026-0000000000042"), us_company(custom_txn_numbers=True))
    assert reason == (
        "Invoice number 'INV-2026-0000000000042' is longer than the 21 characters QuickBooks Online "
        "allows. Use a shorter invoice number format in OneDesk."
    )


# -------------------------------------------------------------------------------------- currency, hash, email


def test_foreign_currency_is_not_sent_and_gives_a_warning() -> None:
    planned = plan(make_invoice(currency="EUR"))

    assert planned.warnings == (
        "Invoice INV-0001 is in EUR but QuickBooks Online records it in the company's currency, USD "
        "(currency is not copied).",
    )
    assert "CurrencyRef" not in planned.body.payload()


def test_home_currency_gives_no_warning() -> None:
    assert plan(make_invoice(currency="USD")).warnings == ()


def test_content_hash_is_stable_for_equal_input() -> None:
    first = plan(make_invoice(time_line(), custom_line()))
    second = plan(make_invoice(time_line(), custom_line()))
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64


def test_content_hash_changes_when_a_line_changes() -> None:
    base = plan(make_invoice(time_line())).content_hash
    renamed = plan(make_invoice(time_line(description="Fix logout page"))).content_hash
    more_hours = plan(make_invoice(time_line(hours="2", amount="240.00"))).content_hash
    assert len({base, renamed, more_hours}) == 3


def test_bill_email_comes_from_the_billing_contact() -> None:
    assert plan(make_invoice()).body.BillEmail == qbo.EmailAddress(Address="ap@globex.test")
    assert plan(make_invoice(org=organization(email=None))).body.BillEmail is None


def test_dates_are_copied() -> None:
    body = plan(make_invoice()).body
    assert (str(body.TxnDate), str(body.DueDate)) == ("2026-11-01", "2026-12-01")
