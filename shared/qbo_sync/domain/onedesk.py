"""OneDesk as the product sees it: invoices, their customer organization, and what we write back.

These are our own models, not OneDesk's wire format (see docs/onedesk-contract.md); the OneDesk adapter
maps the wire to them. Money, hours and rates are exact ``Decimal`` (a float is rejected), and every
instant is timezone-aware.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, model_validator

# Strict: a float (or int) never silently becomes money; JSON input may still carry numbers or strings.
ExactDecimal = Annotated[Decimal, Strict()]
NonNegativeDecimal = Annotated[Decimal, Strict(), Field(ge=0)]

# The tags the product puts next to an invoice's status in OneDesk (P7, P9).
COPIED_TO_QBO_TAG = "Copied to QBO"
SENT_VIA_QBO_TAG = "Sent via QBO"


class _DomainModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvoiceStatus(StrEnum):
    DRAFT = "Draft"
    OPEN = "Open"
    SENT = "Sent"
    PARTIALLY_PAID = "PartiallyPaid"
    PAID = "Paid"
    VOID = "Void"


class LineKind(StrEnum):
    TIME = "time"
    TAX = "tax"
    DISCOUNT = "discount"
    CUSTOM = "custom"


class Plan(StrEnum):
    """OneDesk subscription plans, declared from lowest to highest (comparisons follow that order)."""

    STARTER = "Starter"
    GROWTH = "Growth"
    PREMIUM = "Premium"
    ENTERPRISE = "Enterprise"

    @property
    def includes_invoicing_integrations(self) -> bool:
        """P1: the QBO integration is available on Premium or higher."""
        return self >= Plan.PREMIUM

    # StrEnum would compare the names alphabetically; plans compare by their rank instead.
    def _rank(self) -> int:
        return list(Plan).index(self)

    def __lt__(self, other: object) -> bool:
        return self._rank() < other._rank() if isinstance(other, Plan) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self._rank() <= other._rank() if isinstance(other, Plan) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self._rank() > other._rank() if isinstance(other, Plan) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self._rank() >= other._rank() if isinstance(other, Plan) else NotImplemented


class AccountProfile(_DomainModel):
    account_id: str
    name: str
    plan: Plan


class BillingContact(_DomainModel):
    name: str | None
    email: str | None


class CustomerOrganization(_DomainModel):
    id: str
    name: str
    billing_contact: BillingContact


class InvoiceLine(_DomainModel):
    id: str
    kind: LineKind
    description: str  # the ticket/task name, or the tax/discount label
    service_type: str | None
    hours: ExactDecimal | None
    rate: ExactDecimal | None
    amount: ExactDecimal  # signed as OneDesk shows it: discounts are negative
    tax_rate_percent: ExactDecimal | None

    @model_validator(mode="after")
    def _check_kind_specific_fields(self) -> Self:
        if self.kind is LineKind.TIME and (not self.service_type or self.hours is None or self.rate is None):
            # Service type becomes the QBO item, hours the Qty and rate the UnitPrice (P13).
            raise ValueError("a time line needs service_type, hours and rate")
        if self.tax_rate_percent is not None and self.kind is not LineKind.TAX:
            raise ValueError("only a tax line can have tax_rate_percent")
        if self.kind is LineKind.DISCOUNT and self.amount > 0:
            raise ValueError("a discount line reduces the invoice: its amount cannot be positive")
        return self


class QboReference(_DomainModel):
    realm_id: str
    qbo_invoice_id: str
    qbo_doc_number: str | None
    copied_at: AwareDatetime


class Tag(_DomainModel):
    name: str
    at: AwareDatetime
    detail: str | None


class SyncMessage(_DomainModel):
    level: Literal["info", "warning", "error"]
    text: str
    at: AwareDatetime


class PaymentState(_DomainModel):
    amount_paid: NonNegativeDecimal
    balance: NonNegativeDecimal
    status: InvoiceStatus
    last_payment_date: date | None


class Invoice(_DomainModel):
    id: str
    number: str
    status: InvoiceStatus
    organization: CustomerOrganization
    issue_date: date
    due_date: date | None
    currency: str = Field(pattern=r"^[A-Z]{3}$")  # ISO 4217
    lines: tuple[InvoiceLine, ...]
    subtotal: ExactDecimal
    total: ExactDecimal
    amount_paid: NonNegativeDecimal
    balance: ExactDecimal
    modified_at: AwareDatetime
    tags: tuple[Tag, ...] = ()
    qbo_reference: QboReference | None = None
    sync_message: SyncMessage | None = None
    last_payment_date: date | None = None
