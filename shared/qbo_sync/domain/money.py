"""Money rules: exact Decimal arithmetic, one rounding rule everywhere (half-up to the cent)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_cents(amount: Decimal) -> Decimal:
    """Round half-up to cents: 1.333 h x 75.00 = 99.975 -> 99.98 (QBO and accountants round half-up)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """The amount a QBO item line must carry for Qty x UnitPrice (checked by QBO to the cent)."""
    return to_cents(quantity * unit_price)


def percent_of(base: Decimal, rate_percent: Decimal) -> Decimal:
    return to_cents(base * rate_percent / Decimal(100))
