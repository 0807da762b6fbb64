"""What a copied QBO invoice looks like after our write, and how to tell when it changed since.

- ``fingerprint``: the part of a QBO invoice a bookkeeper's edit changes (customer, number, dates, lines,
  tax code, total), taken from the entity QBO returned for our own write. Not the SyncToken alone: a
  payment applied or an email sent moves the SyncToken too, and neither is an edit to the invoice.
- ``total_mismatch``: after every write, QBO's TotalAmt must equal OneDesk's total to the cent; any
  difference (QBO computed tax differently, a bookkeeper's version was kept) is said, never hidden.
- ``written_at`` / ``echoes_our_write``: QBO announces our own update like anyone's (an Invoice "updated"
  event stamped with the invoice's new LastUpdatedTime); reading the invoice back for it would only spend
  the realm's budget, so the first event stamped at our update's time (to the second QBO keeps) is taken
  as that announcement; any other event of that second is read as usual.
- ``differences``: a short description of how QBO's current invoice differs from what OneDesk would write,
  for the admin who decides a conflict.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

from qbo_sync.domain import qbo

_SUBTOTAL = "SubTotalLineDetail"  # computed by QBO from the other lines: never an edit of its own


def _number(value: Decimal | None) -> str | None:
    # 180, 180.0 and 180.00 are the same amount whichever way QBO's JSON wrote it.
    return None if value is None else format(value.normalize(), "f")


def _ref(ref: qbo.Ref | None) -> str | None:
    return ref.value if ref is not None else None


def _line(line: qbo.Line) -> dict[str, object]:
    sales, discount = line.SalesItemLineDetail, line.DiscountLineDetail
    return {
        "type": line.DetailType,
        "amount": _number(line.Amount),
        "description": line.Description or "",
        "item": _ref(sales.ItemRef) if sales else None,
        "qty": _number(sales.Qty) if sales else None,
        "price": _number(sales.UnitPrice) if sales else None,
        "tax": _ref(sales.TaxCodeRef) if sales else None,
        "percent": _number(discount.DiscountPercent) if discount and discount.PercentBased else None,
    }


def _content(invoice: qbo.Invoice) -> dict[str, object]:
    tax = invoice.TxnTaxDetail
    return {
        "customer": invoice.CustomerRef.value,
        "number": invoice.DocNumber,
        "date": invoice.TxnDate.isoformat() if invoice.TxnDate else None,
        "due": invoice.DueDate.isoformat() if invoice.DueDate else None,
        "lines": [_line(line) for line in invoice.Line if line.DetailType != _SUBTOTAL],
        "tax_code": _ref(tax.TxnTaxCodeRef) if tax else None,
        "tax_calculation": invoice.GlobalTaxCalculation,
        "total": _number(invoice.TotalAmt),
    }


def fingerprint(invoice: qbo.Invoice) -> str:
    """Stable across payments, emails, voids' notes and SyncTokens; changes with any edit of content."""
    canonical = json.dumps(_content(invoice), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def total_mismatch(
    invoice_number: str,
    onedesk_total: Decimal,
    qbo_total: Decimal | None,
    *,
    automated_tax: tuple[Decimal | None, Decimal] | None = None,
) -> str | None:
    """The warning for OneDesk when QBO's total is not OneDesk's to the cent; None when they agree (or
    QBO's total is unknown, as in a dry run). ``automated_tax`` = (QBO's tax, OneDesk's tax) when QBO's
    Automated Sales Tax computed the tax: the likely cause is then said too."""
    if qbo_total is None or qbo_total == onedesk_total:
        return None
    totals = (
        f"QuickBooks Online totals invoice {invoice_number} at {qbo_total}, OneDesk at {onedesk_total} "
        f"(difference {onedesk_total - qbo_total})"
    )
    if automated_tax is None:
        return f"{totals}; check the invoice in QuickBooks Online."
    qbo_tax, onedesk_tax = automated_tax
    charged = qbo_tax if qbo_tax is not None else "another"
    return (
        f"QuickBooks Online's Automated Sales Tax charged {charged} tax where OneDesk charged {onedesk_tax}: "
        f"{totals}; check the customer's address or the invoice's tax in QuickBooks Online."
    )


def written_at(invoice: qbo.Invoice) -> datetime | None:
    """The LastUpdatedTime QBO gave the invoice in its answer to our write."""
    stamp = invoice.MetaData.LastUpdatedTime if invoice.MetaData else None
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def echoes_our_write(occurred_at: datetime | None, our_write_at: datetime | None) -> bool:
    """An invoice event stamped at the second of our last write to that invoice: ours, coming back."""
    if (
        occurred_at is None
        or our_write_at is None
        or occurred_at.tzinfo is None
        or our_write_at.tzinfo is None
    ):
        return False
    return _to_second(occurred_at) == _to_second(our_write_at)


def _to_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def differences(current: qbo.Invoice, planned: qbo.Invoice, onedesk_total: Decimal) -> str:
    """How QBO's ``current`` invoice differs from the ``planned`` body OneDesk's invoice maps to, in
    words (the planned body has no TotalAmt: QBO computes it, so OneDesk's total stands in)."""
    ours, theirs = _content(planned), _content(current)
    found: list[str] = []
    if theirs["customer"] != ours["customer"]:
        found.append("customer")
    if ours["number"] is not None and theirs["number"] != ours["number"]:
        found.append("number")
    # Only what we send: QBO fills a missing due date from the company's terms.
    if any(ours[key] is not None and theirs[key] != ours[key] for key in ("date", "due")):
        found.append("dates")
    if theirs["lines"] != ours["lines"]:
        found.append("lines")
    if current.TotalAmt is not None and current.TotalAmt != onedesk_total:
        found.append(f"total (QuickBooks Online {current.TotalAmt}, OneDesk {onedesk_total})")
    return ", ".join(found) if found else "details"
