"""OneDesk invoice -> QBO invoice (docs/product.md P5, P13-P16), as a pure function.

Rules chosen where QBO and the issue leave room (README "Invoice mapping" repeats them):
- Only Open or Sent invoices are copied; everything else is refused with a reason.
- Time lines: ticket/task name as Description, service type as the item. QBO rejects a line whose Amount
  is not round_half_up(Qty x UnitPrice, 2), and keeps seven decimals of Qty and UnitPrice, so the line
  carries OneDesk's amount exactly with: Qty = hours and UnitPrice = rate when they give the amount;
  else (a monthly minimum, a fixed-fee task) Qty = hours and UnitPrice = amount / hours at seven decimals
  when that gives the amount to the cent; else Qty 1, UnitPrice = amount, and the hours in the description.
- Custom lines: their service type (or the "OneDesk custom charge" item) with OneDesk's amount.
- Discount lines: QBO applies one discount per invoice (a DiscountLineDetail, before tax), so the sum of
  OneDesk's discounts goes there, its description listing their labels; and each OneDesk discount is also
  a text line (DescriptionOnly: "Loyalty discount: -10.00") so that none is merged silently, whether or
  not QBO shows the discount line's description.
- Tax goes through QBO's tax engine, never booked as income, with the code domain/taxes.py chooses: US
  lines carry TAX/NON and the code is the TxnTaxCodeRef (tax after discount); with Automated Sales Tax
  QBO picks the code itself; other countries carry the code on every line with
  GlobalTaxCalculation=TaxExcluded (OneDesk adds tax on top of the lines).
- Totals: the QBO total we expect (lines - discount + tax) must equal OneDesk's total to the cent, else
  the copy is refused with the difference stated, before anything is written. After the write, QBO's own
  TotalAmt is compared with OneDesk's (Automated Sales Tax may differ): a difference is a warning.
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
from qbo_sync.domain.money import ZERO, fits_qty_price, line_amount, unit_price_for
from qbo_sync.domain.onedesk import Invoice, InvoiceLine, InvoiceStatus, LineKind
from qbo_sync.domain.taxes import US_TAXABLE, TaxChoice, TaxMode

COPYABLE_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.SENT})
DOC_NUMBER_MAX = 21
DESCRIPTION_MAX = 4000


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
    automated_sales_tax: bool = False  # Preferences.TaxPrefs.PartnerTaxEnabled (US only)

    @property
    def is_us(self) -> bool:
        return self.country.upper() in {"US", "USA"}

    @property
    def tax_mode(self) -> TaxMode:
        if not self.is_us:
            return TaxMode.PER_LINE
        return TaxMode.US_AUTOMATED if self.automated_sales_tax else TaxMode.US


class PlannedInvoice(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    body: qbo.Invoice
    expected_total: Decimal
    expected_tax: Decimal
    qbo_computes_tax: bool
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
    tax: TaxChoice,
    customer_id: str,
    item_ids: Mapping[str, str],
) -> PlannedInvoice:
    """Build the QBO invoice body for ``invoice`` with the tax code chosen for it, or raise
    ``CopyRefused``."""
    if (refusal := status_refusal(invoice)) is not None:
        raise CopyRefused(refusal)
    warnings: list[str] = []
    billable = [line for line in invoice.lines if line.kind in (LineKind.TIME, LineKind.CUSTOM)]
    if not billable:
        raise CopyRefused(f"Invoice {invoice.number} has no billable lines to copy.")
    discounts = [line for line in invoice.lines if line.kind is LineKind.DISCOUNT]
    discount_total = -sum((line.amount for line in discounts), ZERO)
    if discount_total < ZERO:
        raise CopyRefused(f"Invoice {invoice.number}: discount lines must reduce the total.")
    billable_total = sum((line.amount for line in billable), ZERO)

    lines = [_sales_line(line, item_ids, tax.line_code, warnings) for line in billable]
    lines += _discount_lines(discounts, discount_total)

    expected_total = billable_total - discount_total + tax.expected_tax
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
    if company.tax_mode is TaxMode.PER_LINE:
        body.GlobalTaxCalculation = "TaxExcluded"
    elif tax.line_code == US_TAXABLE:
        # US only: OneDesk taxes the lines after its discounts.
        body.ApplyTaxAfterDiscount = True
        if tax.code is not None:
            body.TxnTaxDetail = qbo.TxnTaxDetail(TxnTaxCodeRef=qbo.Ref(value=tax.code.code_id))
    return PlannedInvoice(
        body=body,
        expected_total=expected_total,
        expected_tax=tax.expected_tax,
        qbo_computes_tax=tax.qbo_computes,
        warnings=tuple(warnings),
        content_hash=content_hash(body),
    )


def content_hash(body: qbo.Invoice) -> str:
    """Stable hash of what we would send: unchanged hash -> no QBO call (also stops echo loops)."""
    canonical = json.dumps(body.payload(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sales_line(
    line: InvoiceLine, item_ids: Mapping[str, str], tax_code: str, warnings: list[str]
) -> qbo.Line:
    name = item_name_for(line.service_type)
    detail = qbo.SalesItemLineDetail(
        ItemRef=qbo.Ref(value=item_ids[name], name=name), TaxCodeRef=qbo.Ref(value=tax_code)
    )
    description = line.description
    if line.hours is not None and line.rate is not None:
        detail.Qty, detail.UnitPrice, hours_in_text = _quantity_and_price(line.hours, line.rate, line.amount)
        if hours_in_text:
            description = f"{description} ({line.hours.normalize():f} h)"
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


def _quantity_and_price(hours: Decimal, rate: Decimal, amount: Decimal) -> tuple[Decimal, Decimal, bool]:
    """Qty and UnitPrice that QBO keeps exactly and whose product rounds to ``amount``; True when the
    hours only fit in the description (Qty 1, UnitPrice = amount)."""
    if fits_qty_price(hours) and fits_qty_price(rate) and line_amount(hours, rate) == amount:
        return hours, rate, False
    if hours and fits_qty_price(hours):
        price = unit_price_for(amount, hours)  # a monthly minimum or a fixed fee spread over the hours
        if line_amount(hours, price) == amount:
            return hours, price, False
    return Decimal(1), amount, True


def _discount_lines(discounts: list[InvoiceLine], discount_total: Decimal) -> list[qbo.Line]:
    """One text line per OneDesk discount, then QBO's one discount line carrying their sum."""
    lines = [
        qbo.Line(
            DetailType="DescriptionOnly", Description=f"{line.description}: {line.amount}"[:DESCRIPTION_MAX]
        )
        for line in discounts
    ]
    if discount_total > ZERO:
        lines.append(
            qbo.Line(
                DetailType="DiscountLineDetail",
                Amount=discount_total,
                Description="; ".join(line.description for line in discounts)[:DESCRIPTION_MAX],
                DiscountLineDetail=qbo.DiscountLineDetail(PercentBased=False),
            )
        )
    return lines


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
