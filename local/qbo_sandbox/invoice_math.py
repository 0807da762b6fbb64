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


def global_totals(lines: list[dict[str, Any]], codes: Mapping[str, TaxCode], calculation: str) -> Totals:
    """Non-US model: every sales line names a real tax code; the discount is pre-tax.

    TaxExcluded: line amounts are net and tax is added on top.
    TaxInclusive: line amounts already contain the tax, which is carved out of them.
    """
    sub = subtotal(lines)
    discount = apply_discounts(lines)
    totals = Totals(sub, discount, ZERO, sub - discount)
    if calculation == "NotApplicable":
        return totals

    bases: dict[str, tuple[TaxRate, Decimal, Decimal]] = {}  # rate id -> (rate, gross base, combined %)
    for line in _sales_lines(lines):
        code = codes[line[SALES_LINE]["TaxCodeRef"]["value"]]
        combined = sum((rate.percent for rate in code.rates), Decimal(0))
        share = _after_discount(line["Amount"], discount, sub)
        for rate in code.rates:
            _, gross, _ = bases.get(rate.rate_id, (rate, Decimal(0), combined))
            bases[rate.rate_id] = (rate, gross + share, combined)

    for rate, gross, combined in bases.values():
        net = gross * HUNDRED / (HUNDRED + combined) if calculation == "TaxInclusive" else gross
        tax = round_cents(net * rate.percent / HUNDRED)
        totals.tax += tax
        totals.tax_lines.append(_tax_line(rate, tax, net))
    if calculation != "TaxInclusive":
        totals.total += totals.tax
    return totals
