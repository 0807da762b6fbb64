"""Money rules and the OneDesk -> QBO invoice mapping (PRODUCT.md P5, P10, P13-P16)."""

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
from qbo_sync.domain.money import line_amount, percent_of, to_cents
from qbo_sync.domain.onedesk import Invoice, InvoiceStatus
from qbo_sync.domain.tenant import TaxSettings, TenantSettings
from tests.unit.builders import (
    CA_TAX,
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
) -> PlannedInvoice:
    return plan_invoice(invoice, company or us_company(), tenant_settings or settings(), "58", ITEMS)


def refusal(
    invoice: Invoice,
    company: CompanyProfile | None = None,
    tenant_settings: TenantSettings | None = None,
) -> str:
    with pytest.raises(CopyRefused) as refused:
        plan(invoice, company, tenant_settings)
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


def test_line_amount_that_is_not_hours_times_rate_is_refused_with_the_difference() -> None:
    line = time_line(description="Fix login page", hours="1.333", rate="75.00", amount="99.97")
    assert refusal(make_invoice(line)) == (
        "Invoice INV-0001, line 'Fix login page': 1.333 h x 75.00 = 99.98 but OneDesk shows 99.97 "
        "(difference -0.01)."
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


def test_discounts_are_summed_into_one_discount_line() -> None:
    invoice = make_invoice(
        time_line(),
        discount_line("-10.00", "Loyalty"),
        discount_line("-5.50", "Early payment"),
    )
    planned = plan(invoice)

    discounts = [line for line in planned.body.Line if line.DetailType == "DiscountLineDetail"]
    assert len(discounts) == 1
    assert discounts[0].Amount == Decimal("15.50")
    assert discounts[0].Description == "Loyalty; Early payment"
    assert discounts[0].DiscountLineDetail == qbo.DiscountLineDetail(PercentBased=False)
    assert planned.expected_total == Decimal("164.50")


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
    assert [line.DetailType for line in planned.body.Line] == ["SalesItemLineDetail", "DiscountLineDetail"]


def test_us_invoice_without_tax_marks_lines_non_taxable() -> None:
    planned = plan(make_invoice(time_line(), custom_line()))

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="NON"), qbo.Ref(value="NON")]
    assert planned.body.TxnTaxDetail is None
    assert planned.body.ApplyTaxAfterDiscount is None
    assert planned.expected_tax == Decimal("0.00")


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


def test_untaxed_ca_invoice_uses_the_exempt_code() -> None:
    planned = plan(make_invoice(time_line(), currency="CAD"), ca_company(), settings(CA_TAX))

    assert [d.TaxCodeRef for d in sales_details(planned)] == [qbo.Ref(value="3")]
    assert planned.body.GlobalTaxCalculation == "TaxExcluded"


def test_untaxed_ca_invoice_without_exempt_code_is_refused() -> None:
    no_exempt = TaxSettings(tax_code_id="5", rate_percent=Decimal("13"))
    reason = refusal(make_invoice(time_line(), currency="CAD"), ca_company(), settings(no_exempt))
    assert reason == (
        "Invoice INV-0001 has no tax, but the QuickBooks Online company has no zero-rated tax code to put "
        "on its lines. Add one in QuickBooks Online, then copy again."
    )


def test_tax_amount_mismatch_is_refused_with_the_difference() -> None:
    reason = refusal(make_invoice(time_line(), tax_line("15.00", "8.25")))  # 8.25 % of 180.00 = 14.85
    assert reason == (
        "Invoice INV-0001: tax at 8.25% on 180.00 is 14.85 but OneDesk shows 15.00 (difference 0.15). "
        "Nothing was copied."
    )


def test_total_mismatch_is_refused_with_the_difference() -> None:
    reason = refusal(make_invoice(time_line(), total="180.01"))
    assert reason == (
        "Invoice INV-0001: QuickBooks Online would total 180.00 but OneDesk shows 180.01 "
        "(difference 0.01). Nothing was copied."
    )


def test_mixed_tax_rates_are_refused() -> None:
    invoice = make_invoice(time_line(), tax_line("9.00", "5", "GST"), tax_line("14.40", "8", "PST"))
    assert "different or missing rates" in refusal(invoice)


def test_tax_rate_other_than_the_default_codes_is_refused() -> None:
    reason = refusal(make_invoice(time_line(), tax_line("9.00", "5")))
    assert reason == "Invoice INV-0001 charges 5% tax but the default tax code (CA State) is 8.25%."


def test_taxed_invoice_without_a_taxable_default_code_is_refused() -> None:
    reason = refusal(make_invoice(time_line(), tax_line("14.85")), tenant_settings=settings(TaxSettings()))
    assert "not a taxable code" in reason


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
