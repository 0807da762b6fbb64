"""Sales-form arithmetic (§2): subtotal, discounts, US and global (CA) tax, totals. Decimal only."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.money import HUNDRED, ZERO, round_cents

SALES_LINE = "SalesItemLineDetail"
DISCOUNT_LINE = "DiscountLineDetail"


@dataclass(frozen=True)
class TaxRate:
    rate_id: str
    name: str
    percent: Decimal


@dataclass(frozen=True)
class TaxCode:
    code_id: str
    name: str
    rates: tuple[TaxRate, ...]


@dataclass
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    tax_lines: list[dict[str, Any]] = field(default_factory=list)


def _sales_lines(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("DetailType") == SALES_LINE]


def subtotal(lines: Iterable[dict[str, Any]]) -> Decimal:
    return sum((line["Amount"] for line in _sales_lines(lines)), ZERO)


def apply_discounts(lines: list[dict[str, Any]]) -> Decimal:
    """Fill in the Amount of percent-based discount lines; return the total discount."""
    base = subtotal(lines)
    total = ZERO
    for line in lines:
        if line.get("DetailType") != DISCOUNT_LINE:
            continue
        detail = line[DISCOUNT_LINE]
        if detail.get("PercentBased"):
            line["Amount"] = round_cents(base * detail["DiscountPercent"] / HUNDRED)
        total += line["Amount"]
    return total


def _tax_line(rate: TaxRate, tax: Decimal, net: Decimal) -> dict[str, Any]:
    return {
        "Amount": tax,
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate.rate_id, "name": rate.name},
            "PercentBased": True,
            "TaxPercent": rate.percent,
            "NetAmountTaxable": round_cents(net),
        },
    }


def _after_discount(amount: Decimal, discount: Decimal, base: Decimal) -> Decimal:
    """`amount`'s share of the sales base once the discount is spread pro rata (unrounded)."""
    if base.is_zero():
        return amount
    return amount - discount * amount / base


def us_totals(
    lines: list[dict[str, Any]], txn_tax_code: TaxCode | None, apply_tax_after_discount: bool
) -> Totals:
    """US model: lines are TAX/NON; one transaction tax code supplies the rate(s)."""
    sub = subtotal(lines)
    discount = apply_discounts(lines)
    taxable = sum(
        (line["Amount"] for line in _sales_lines(lines) if line[SALES_LINE]["TaxCodeRef"]["value"] == "TAX"),
        ZERO,
    )
    if apply_tax_after_discount:
        taxable = _after_discount(taxable, discount, sub)
    totals = Totals(sub, discount, ZERO, ZERO)
    for rate in txn_tax_code.rates if txn_tax_code else ():
        # Rounded once per rate per transaction, never per line.
        tax = round_cents(taxable * rate.percent / HUNDRED)
        totals.tax += tax
        totals.tax_lines.append(_tax_line(rate, tax, taxable))
    totals.total = sub - discount + totals.tax
    return totals


def _spread(discount: Decimal, nets: dict[str, Decimal], sub: Decimal) -> dict[str, Decimal]:
    """The discount shared among tax codes in proportion to their net amounts, each share rounded to the
    cent and the last code taking the remainder, so the shares add up to the discount exactly (with one
    code, the taxable base is exactly subtotal - discount)."""
    shares: dict[str, Decimal] = {}
    remaining = discount
    for index, (code_id, net) in enumerate(nets.items()):
        last = index == len(nets) - 1
        share = remaining if last or sub.is_zero() else round_cents(discount * net / sub)
        shares[code_id] = share
        remaining -= share
    return shares


def global_totals(lines: list[dict[str, Any]], codes: Mapping[str, TaxCode], calculation: str) -> Totals:
    """Non-US model: every sales line names a real tax code; the discount is pre-tax.

    TaxExcluded: line amounts are net and tax is added on top.
    TaxInclusive: line amounts already contain the tax, which is carved out of them.
    Tax is rounded half-up once per tax rate (a rate shared by several codes, such as GST in "GST" and
    "GST/PST BC", is one TaxLine).
    """
    sub = subtotal(lines)
    discount = apply_discounts(lines)
    totals = Totals(sub, discount, ZERO, sub - discount)
    if calculation == "NotApplicable":
        return totals

    nets: dict[str, Decimal] = {}
    for line in _sales_lines(lines):
        code_id = line[SALES_LINE]["TaxCodeRef"]["value"]
        nets[code_id] = nets.get(code_id, ZERO) + line["Amount"]
    bases: dict[str, tuple[TaxRate, Decimal]] = {}  # rate id -> (rate, net amount taxed at it)
    for code_id, share in _spread(discount, nets, sub).items():
        code = codes[code_id]
        gross = nets[code_id] - share
        combined = sum((rate.percent for rate in code.rates), Decimal(0))
        net = gross * HUNDRED / (HUNDRED + combined) if calculation == "TaxInclusive" else gross
        for rate in code.rates:
            _, so_far = bases.get(rate.rate_id, (rate, ZERO))
            bases[rate.rate_id] = (rate, so_far + net)

    for rate, net in bases.values():
        tax = round_cents(net * rate.percent / HUNDRED)
        totals.tax += tax
        totals.tax_lines.append(_tax_line(rate, tax, net))
    if calculation != "TaxInclusive":
        totals.total += totals.tax
    return totals
