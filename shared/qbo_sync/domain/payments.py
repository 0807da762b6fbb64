"""What a OneDesk invoice shows about payments, computed from the QBO invoice alone (P18).

Absolute values only (invariant 2): amount paid = TotalAmt - Balance, so a duplicated, reordered or
replayed event can never count a payment twice. Credits applied count as paid, as in QBO.
"""

from __future__ import annotations

from datetime import date

from qbo_sync.domain import qbo
from qbo_sync.domain.commands import QboChange
from qbo_sync.domain.money import ZERO
from qbo_sync.domain.onedesk import InvoiceStatus, PaymentState

VOIDED_NOTE_PREFIX = "Voided"

# A new or just-emailed invoice has nothing paid on it: reading it back would only spend the realm's QBO
# budget (every invoice we create or send comes back as one of these events). Payments, credit memos and
# invoice updates, voids and deletes are what move the paid amount.
_NO_PAYMENT_NEWS = frozenset({"created", "create", "emailed"})


def carries_payment_news(change: QboChange) -> bool:
    """False for the changes that cannot move what an invoice shows as paid: they are never queued, and
    one already queued is acknowledged without reading QBO."""
    return not (change.entity == "Invoice" and change.operation in _NO_PAYMENT_NEWS)


def is_voided(invoice: qbo.Invoice) -> bool:
    """QBO keeps a voided invoice with zero amounts and "Voided" at the start of its private note."""
    return (invoice.TotalAmt or ZERO) == ZERO and (invoice.PrivateNote or "").startswith(VOIDED_NOTE_PREFIX)


def payment_state(
    invoice: qbo.Invoice, unpaid_status: InvoiceStatus, last_payment: date | None
) -> PaymentState:
    """``unpaid_status`` is what OneDesk shows when nothing is paid (Open, or Sent once it was sent)."""
    total = invoice.TotalAmt or ZERO
    balance = invoice.Balance if invoice.Balance is not None else total
    paid = total - balance
    if balance == ZERO and total > ZERO:
        status = InvoiceStatus.PAID
    elif paid > ZERO:
        status = InvoiceStatus.PARTIALLY_PAID
    else:
        status = unpaid_status
    return PaymentState(
        amount_paid=paid,
        balance=balance,
        status=status,
        last_payment_date=last_payment if paid > ZERO else None,
    )


def payment_ids(invoice: qbo.Invoice) -> list[str]:
    return [link.TxnId for link in invoice.LinkedTxn or [] if link.TxnType == "Payment"]


def invoice_ids(payment: qbo.Payment) -> set[str]:
    return {link.TxnId for line in payment.Line for link in line.LinkedTxn if link.TxnType == "Invoice"}
