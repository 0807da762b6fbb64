"""The OneDesk domain models: exact money, aware times, and the rules each line kind follows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from qbo_sync.domain.onedesk import (
    BillingContact,
    CustomerOrganization,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    PaymentState,
    Plan,
    SyncMessage,
    Tag,
)

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def line(**fields: Any) -> InvoiceLine:
    defaults: dict[str, Any] = {
        "id": "1",
        "kind": LineKind.TIME,
        "description": "Fix login page",
        "service_type": "Support",
        "hours": Decimal("1.5"),
        "rate": Decimal("120"),
        "amount": Decimal("180.00"),
        "tax_rate_percent": None,
    }
    return InvoiceLine(**{**defaults, **fields})


def invoice(**fields: Any) -> Invoice:
    organization = CustomerOrganization(
        id="7", name="Globex", billing_contact=BillingContact(name="Pat Payer", email="ap@globex.test")
    )
    defaults: dict[str, Any] = {
        "id": "1003",
        "number": "INV-0001",
        "status": InvoiceStatus.OPEN,
        "organization": organization,
        "issue_date": date(2026, 11, 1),
        "due_date": None,
        "currency": "USD",
        "lines": (line(),),
        "subtotal": Decimal("180.00"),
        "total": Decimal("180.00"),
        "amount_paid": Decimal("0.00"),
        "balance": Decimal("180.00"),
        "modified_at": AT,
    }
    return Invoice(**{**defaults, **fields})


@pytest.mark.parametrize("missing", ["service_type", "hours", "rate"])
def test_a_time_line_needs_service_type_hours_and_rate(missing: str) -> None:
    with pytest.raises(ValidationError, match="time line needs"):
        line(**{missing: None})


def test_an_empty_service_type_does_not_count() -> None:
    with pytest.raises(ValidationError, match="time line needs"):
        line(service_type="")


def test_other_lines_need_only_an_amount() -> None:
    custom = line(kind=LineKind.CUSTOM, service_type=None, hours=None, rate=None, amount=Decimal("50.00"))
    tax = line(kind=LineKind.TAX, service_type=None, hours=None, rate=None, tax_rate_percent=Decimal("8.25"))
    assert (custom.amount, tax.tax_rate_percent) == (Decimal("50.00"), Decimal("8.25"))


def test_only_a_tax_line_has_a_tax_rate() -> None:
    with pytest.raises(ValidationError, match="only a tax line"):
        line(tax_rate_percent=Decimal(5))


def test_a_discount_cannot_add_to_the_invoice() -> None:
    discount = {"kind": LineKind.DISCOUNT, "service_type": None, "hours": None, "rate": None}
    assert line(**discount, amount=Decimal("-10.00")).amount == Decimal("-10.00")
    with pytest.raises(ValidationError, match="discount"):
        line(**discount, amount=Decimal("10.00"))


@pytest.mark.parametrize("not_exact", [180.0, 180, "180.00"])
def test_money_must_be_a_decimal(not_exact: object) -> None:
    with pytest.raises(ValidationError, match="instance of Decimal"):
        line(amount=not_exact)


def test_non_finite_money_is_rejected() -> None:
    with pytest.raises(ValidationError):
        line(amount=Decimal("NaN"))


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Tag(name="Copied to QBO", at=datetime(2026, 11, 2, 9, 30), detail=None)  # noqa: DTZ001 - the point
    with pytest.raises(ValidationError, match="timezone"):
        invoice(modified_at=datetime(2026, 11, 2, 9, 30))  # noqa: DTZ001 - the point


def test_currency_is_an_iso_4217_code() -> None:
    for bad in ("usd", "US", "DOLLAR"):
        with pytest.raises(ValidationError):
            invoice(currency=bad)


def test_payment_amounts_cannot_be_negative() -> None:
    with pytest.raises(ValidationError):
        PaymentState(
            amount_paid=Decimal("-1"), balance=Decimal(0), status=InvoiceStatus.PAID, last_payment_date=None
        )


def test_sync_message_levels_are_fixed() -> None:
    with pytest.raises(ValidationError):
        SyncMessage(level="debug", text="hello", at=AT)  # type: ignore[arg-type]


def test_models_are_frozen_and_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        invoice().number = "INV-0002"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        invoice(color="red")


def test_an_invoice_survives_a_json_round_trip_exactly() -> None:
    original = invoice(
        tags=(Tag(name="Copied to QBO", at=AT, detail="QBO invoice 1038"),),
        lines=(line(hours=Decimal("0.333"), rate=Decimal("99.99"), amount=Decimal("33.30")),),
    )
    copy = Invoice.model_validate_json(original.model_dump_json())
    assert copy == original
    assert copy.lines[0].hours == Decimal("0.333")


def test_plans_are_ordered_by_tier_not_by_name() -> None:
    assert Plan.STARTER < Plan.GROWTH < Plan.PREMIUM < Plan.ENTERPRISE
    assert sorted([Plan.ENTERPRISE, Plan.GROWTH, Plan.PREMIUM, Plan.STARTER]) == list(Plan)
    assert Plan.PREMIUM >= Plan.PREMIUM > Plan.GROWTH


@pytest.mark.parametrize(
    ("plan", "included"),
    [(Plan.STARTER, False), (Plan.GROWTH, False), (Plan.PREMIUM, True), (Plan.ENTERPRISE, True)],
)
def test_invoicing_integrations_need_premium_or_higher(plan: Plan, included: bool) -> None:
    assert plan.includes_invoicing_integrations is included


def test_plans_parse_from_their_values() -> None:
    assert Plan("Enterprise") is Plan.ENTERPRISE
    assert InvoiceStatus("PartiallyPaid") is InvoiceStatus.PARTIALLY_PAID
