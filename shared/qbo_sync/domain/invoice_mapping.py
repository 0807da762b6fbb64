"""OneDesk invoice -> QBO invoice (PRODUCT.md P5, P13-P16), as a pure function.

Rules chosen where QBO and the issue leave room (README "Invoice mapping" repeats them):
- Only Open or Sent invoices are copied; everything else is refused with a reason.
- Time lines: ticket/task name as Description, service type as the item, hours as Qty, rate as UnitPrice,
  Amount = round-half-up(Qty x UnitPrice) to the cent. OneDesk's line amount must equal it, otherwise the
  copy is refused with the difference (QBO rejects an Amount that is not Qty x UnitPrice).
- Custom lines: their service type (or the "OneDesk custom charge" item) with OneDesk's amount.
- Discount lines: one QBO discount line carrying the sum of OneDesk's discounts.
- Tax lines: tax goes through QBO's tax engine (never booked as income): all OneDesk tax lines must share
  one rate, equal to the rate of the tenant's default tax code. US companies get TAX/NON on lines and the
  code as TxnTaxCodeRef (tax after discount); other countries get the code on every line and
  GlobalTaxCalculation=TaxExcluded. Untaxed invoices: NON (US) or the exempt code (elsewhere).
- Totals: the QBO total we expect (lines - discount + tax, tax rounded once) must equal OneDesk's total
  to the cent, else the copy is refused with the difference stated, before anything is written.
- DocNumber: the OneDesk number when the company uses custom transaction numbers (refused if longer
  than QBO's 21 characters, never truncated); otherwise QBO numbers the invoice and the OneDesk number
  is kept in the private note.
- Currency is not sent (P16); a currency other than the company's home currency produces a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from qbo_sync.domain import qbo
from qbo_sync.domain.matching import item_name_for
from qbo_sync.domain.money import ZERO, line_amount, percent_of
from qbo_sync.domain.onedesk import Invoice, InvoiceLine, InvoiceStatus, LineKind
from qbo_sync.domain.tenant import TenantSettings

COPYABLE_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.SENT})
DOC_NUMBER_MAX = 21
DESCRIPTION_MAX = 4000
US_TAXABLE, US_NOT_TAXABLE = "TAX", "NON"


class CopyRefused(Exception):
    """The invoice cannot be copied as it is; ``reason`` is written for the OneDesk admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CompanyProfile(BaseModel):
    """What the mapping needs to know about the connected QBO company."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    realm_id: str
    country: str
    home_currency: str | None = None
    custom_txn_numbers: bool = False

    @property
    def is_us(self) -> bool:
        return self.country.upper() in {"US", "USA"}


class PlannedInvoice(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    body: qbo.Invoice
    expected_total: Decimal
    expected_tax: Decimal
    warnings: tuple[str, ...]
    content_hash: str


def marker(invoice_id: str) -> str:
    """Unique text in the QBO private note that finds our invoice again after a lost response."""
    return f"[onedesk:{invoice_id}]"


def status_refusal(invoice: Invoice) -> str | None:
    if invoice.status in COPYABLE_STATUSES:
        return None
    return (
        f"Invoice {invoice.number} is {invoice.status.value}: only Open invoices can be copied to "
        "QuickBooks Online."
    )


def plan_invoice(
    invoice: Invoice,
    company: CompanyProfile,
    settings: TenantSettings,
    customer_id: str,
    item_ids: Mapping[str, str],
) -> PlannedInvoice:
    """Build the QBO invoice body for ``invoice`` or raise ``CopyRefused``."""
    if (refusal := status_refusal(invoice)) is not None:
        raise CopyRefused(refusal)
    warnings: list[str] = []
    billable = [line for line in invoice.lines if line.kind in (LineKind.TIME, LineKind.CUSTOM)]
    if not billable:
        raise CopyRefused(f"Invoice {invoice.number} has no billable lines to copy.")
    discount_total = -sum((line.amount for line in invoice.lines if line.kind is LineKind.DISCOUNT), ZERO)
    if discount_total < ZERO:
        raise CopyRefused(f"Invoice {invoice.number}: discount lines must reduce the total.")
    billable_total = sum((line.amount for line in billable), ZERO)
    expected_tax, line_tax_code = _tax(invoice, company, settings, billable_total - discount_total)

    lines = [_sales_line(invoice, line, item_ids, line_tax_code, warnings) for line in billable]
    if discount_total > ZERO:
        labels = [line.description for line in invoice.lines if line.kind is LineKind.DISCOUNT]
        lines.append(
            qbo.Line(
                DetailType="DiscountLineDetail",
                Amount=discount_total,
                Description="; ".join(labels)[:DESCRIPTION_MAX],
                DiscountLineDetail=qbo.DiscountLineDetail(PercentBased=False),
            )
        )

    expected_total = billable_total - discount_total + expected_tax
    if expected_total != invoice.total:
        raise CopyRefused(
            f"Invoice {invoice.number}: QuickBooks Online would total {expected_total} but OneDesk shows "
            f"{invoice.total} (difference {invoice.total - expected_total}). Nothing was copied."
        )
    if company.home_currency and invoice.currency.upper() != company.home_currency.upper():
        warnings.append(
            f"Invoice {invoice.number} is in {invoice.currency} but QuickBooks Online records it in the "
            f"company's currency, {company.home_currency} (currency is not copied)."
        )

    body = qbo.Invoice(
        CustomerRef=qbo.Ref(value=customer_id),
        Line=lines,
        DocNumber=_doc_number(invoice, company),
        TxnDate=invoice.issue_date,
        DueDate=invoice.due_date,
        BillEmail=_bill_email(invoice),
        PrivateNote=f"Copied from OneDesk invoice {invoice.number} {marker(invoice.id)}",
    )
    if company.is_us:
        if expected_tax > ZERO:
            body.TxnTaxDetail = qbo.TxnTaxDetail(TxnTaxCodeRef=qbo.Ref(value=str(settings.tax.tax_code_id)))
            body.ApplyTaxAfterDiscount = True
    else:
        body.GlobalTaxCalculation = "TaxExcluded"
    return PlannedInvoice(
        body=body,
        expected_total=expected_total,
        expected_tax=expected_tax,
        warnings=tuple(warnings),
        content_hash=content_hash(body),
    )


def content_hash(body: qbo.Invoice) -> str:
    """Stable hash of what we would send: unchanged hash -> no QBO call (also stops echo loops)."""
    canonical = json.dumps(body.payload(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _tax(
    invoice: Invoice, company: CompanyProfile, settings: TenantSettings, taxable_base: Decimal
) -> tuple[Decimal, str]:
    """Expected tax and the tax code every sales line carries."""
    tax_lines = [line for line in invoice.lines if line.kind is LineKind.TAX]
    if not tax_lines:
        if company.is_us:
            return ZERO, US_NOT_TAXABLE
        if settings.tax.exempt_tax_code_id is None:
            raise CopyRefused(
                f"Invoice {invoice.number} has no tax, but the QuickBooks Online company has no zero-rated "
                "tax code to put on its lines. Add one in QuickBooks Online, then copy again."
            )
        return ZERO, settings.tax.exempt_tax_code_id
    rates = {line.tax_rate_percent for line in tax_lines}
    if len(rates) != 1 or None in rates:
        raise CopyRefused(
            f"Invoice {invoice.number} has tax lines with different or missing rates; only one tax rate "
            "(the default tax code's) can be copied."
        )
    rate = rates.pop()
    assert rate is not None  # narrowed above
    code, code_rate = settings.tax.tax_code_id, settings.tax.rate_percent
    if code is None or code == US_NOT_TAXABLE or code_rate is None:
        raise CopyRefused(
            f"Invoice {invoice.number} has tax, but the default tax code in the integration settings is "
            "not a taxable code. Choose one under Administration > Financials."
        )
    if code_rate != rate:
        raise CopyRefused(
            f"Invoice {invoice.number} charges {rate}% tax but the default tax code "
            f"({settings.tax.tax_code_name or code}) is {code_rate}%."
        )
    expected = percent_of(taxable_base, rate)
    charged = sum((line.amount for line in tax_lines), ZERO)
    if charged != expected:
        raise CopyRefused(
            f"Invoice {invoice.number}: tax at {rate}% on {taxable_base} is {expected} but OneDesk shows "
            f"{charged} (difference {charged - expected}). Nothing was copied."
        )
    return expected, US_TAXABLE if company.is_us else code


def _sales_line(
    invoice: Invoice, line: InvoiceLine, item_ids: Mapping[str, str], tax_code: str, warnings: list[str]
) -> qbo.Line:
    name = item_name_for(line.service_type)
    detail = qbo.SalesItemLineDetail(
        ItemRef=qbo.Ref(value=item_ids[name], name=name), TaxCodeRef=qbo.Ref(value=tax_code)
    )
    if line.hours is not None and line.rate is not None:
        computed = line_amount(line.hours, line.rate)
        if computed != line.amount:
            raise CopyRefused(
                f"Invoice {invoice.number}, line {line.description!r}: {line.hours} h x {line.rate} = "
                f"{computed} but OneDesk shows {line.amount} (difference {line.amount - computed})."
            )
        detail.Qty, detail.UnitPrice = line.hours, line.rate
    description = line.description
    if len(description) > DESCRIPTION_MAX:
        warnings.append(
            f"The description of line {line.description[:40]!r}... was shortened to 4000 characters."
        )
        description = description[: DESCRIPTION_MAX - 1] + "…"
    return qbo.Line(
        DetailType="SalesItemLineDetail",
        Amount=line.amount,
        Description=description,
        SalesItemLineDetail=detail,
    )


def _doc_number(invoice: Invoice, company: CompanyProfile) -> str | None:
    if not company.custom_txn_numbers:
        return None
    if len(invoice.number) > DOC_NUMBER_MAX:
        raise CopyRefused(
            f"Invoice number {invoice.number!r} is longer than the {DOC_NUMBER_MAX} characters QuickBooks "
            "Online allows. Use a shorter invoice number format in OneDesk."
        )
    return invoice.number


def _bill_email(invoice: Invoice) -> qbo.EmailAddress | None:
    email = invoice.organization.billing_contact.email
    return qbo.EmailAddress(Address=email) if email else None
