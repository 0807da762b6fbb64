"""Money rules: exact Decimal arithmetic, one rounding rule everywhere (half-up to the cent)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# QBO keeps seven decimal places of a line's Qty and UnitPrice (digits beyond are dropped; integrators
# document it and lines entered in QBO's UI come back with seven) and two of every Amount.
QTY_PRICE_PLACES = 7
QTY_PRICE_QUANTUM = Decimal(1).scaleb(-QTY_PRICE_PLACES)


def to_cents(amount: Decimal) -> Decimal:
    """Round half-up to cents: 1.333 h x 75.00 = 99.975 -> 99.98 (QBO and accountants round half-up)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """The amount a QBO item line must carry for Qty x UnitPrice (checked by QBO to the cent)."""
    return to_cents(quantity * unit_price)


def percent_of(base: Decimal, rate_percent: Decimal) -> Decimal:
    return to_cents(base * rate_percent / Decimal(100))


def fits_qty_price(value: Decimal) -> bool:
    """True when QBO stores ``value`` as a Qty or UnitPrice without dropping digits."""
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -QTY_PRICE_PLACES


def unit_price_for(amount: Decimal, quantity: Decimal) -> Decimal:
    """``amount / quantity`` at QBO's UnitPrice precision (half-up), without trailing zeros."""
    price = (amount / quantity).quantize(QTY_PRICE_QUANTUM, rounding=ROUND_HALF_UP).normalize()
    exponent = price.as_tuple().exponent
    return price.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else price
