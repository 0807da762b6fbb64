"""Which QBO tax code carries a OneDesk invoice's taxes, as pure functions.

QBO facts this relies on:
- US companies without Automated Sales Tax: sales lines carry the pseudo codes TAX or NON, and the rate
  comes from one ``TxnTaxDetail.TxnTaxCodeRef`` per invoice: a TaxCode that may group several TaxRates
  (a 6 % state rate and a 2.25 % county rate make one 8.25 % code). QBO computes the tax, rounded
  half-up once per rate per transaction.
- US companies with Automated Sales Tax (``Preferences.TaxPrefs.PartnerTaxEnabled``, minor version >= 3;
  every US company created after November 2017): QBO's engine chooses the tax code from the shipping (else
  the company) address and computes the tax; a code sent on the transaction is overridden (Intuit's
  developer blog on AST). Lines still say TAX or NON, so the product sends no code and checks QBO's total
  after the write instead.
- Other countries (CA, UK, AU): every sales line carries a real TaxCode Id and QBO computes
  ``TxnTaxDetail`` (a TaxLine per TaxRate). Canada's PST comes as a combined code ("GST/PST BC" = GST 5 %
  + PST 7 %); an untaxed line still needs a code, a 0 % one ("Exempt", "0.0% Z", "No VAT").
- TaxCode and TaxRate are created only in QBO (its UI or TaxService), read with queries, and absent from
  CDC: the product keeps a snapshot of them (``TaxCatalog``, refreshed by usecases/invoice_taxes.py).

OneDesk (docs/onedesk-contract.md): every tax line is round_half_up(rate x base, 2) on the same base (the
time, custom and discount lines), so a tax applies to the whole invoice. QBO rounds once per rate, hence a
code whose rates are exactly the invoice's rates reproduces OneDesk's tax to the cent; a code with the same
total rate split differently can be a cent off, and is used only when it is not.

Choosing the code for an invoice's combination of taxes:
1. the admin's override for that combination (the settings page's tax table), if any;
2. else automatically: codes whose rates are exactly the invoice's, then codes whose total rate is the
   invoice's total; within each, the preferred (default) code first, then by name;
and only a code that reproduces OneDesk's tax to the cent is used. When none does, the invoice is refused
with what to create in QBO.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from qbo_sync.domain import qbo
from qbo_sync.domain.money import ZERO, percent_of
from qbo_sync.domain.onedesk import Invoice, LineKind
from qbo_sync.domain.tenant import TaxSettings

US_TAXABLE, US_NOT_TAXABLE = "TAX", "NON"
# TaxCode and TaxRate are not in CDC: a copy that finds no fitting code reads them again, at most this often.
CATALOG_MAX_AGE = timedelta(minutes=10)


class TaxMode(StrEnum):
    US = "us"  # TAX/NON on lines, one TxnTaxCodeRef sets the rates
    US_AUTOMATED = "us-automated"  # Automated Sales Tax: QBO chooses the code and computes the tax
    PER_LINE = "per-line"  # CA, UK, AU: a real tax code on every line


def format_percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeRate(_Frozen):
    rate_id: str
    name: str
    percent: Decimal


class CatalogCode(_Frozen):
    """A QBO sales tax code and the rates it charges."""

    code_id: str
    name: str
    rates: tuple[CodeRate, ...]

    @property
    def percent(self) -> Decimal:
        return sum((rate.percent for rate in self.rates), Decimal(0))

    @property
    def label(self) -> str:
        return f"{self.name} ({format_percent(self.percent)})"

    def tax_on(self, base: Decimal) -> Decimal:
        """The tax QBO charges on ``base``: rounded half-up once per rate."""
        return sum((percent_of(base, rate.percent) for rate in self.rates), ZERO)


class OneDeskTax(_Frozen):
    name: str
    rate_percent: Decimal | None  # None: a fixed amount

    @property
    def label(self) -> str:
        if self.rate_percent is None:
            return f"{self.name} (fixed amount)"
        percent = format_percent(self.rate_percent)
        return self.name if percent in self.name.replace(" %", "%") else f"{self.name} {percent}"


class TaxCombination(_Frozen):
    """The taxes one OneDesk invoice charges, in a canonical order: what the admin maps to a QBO code."""

    taxes: tuple[OneDeskTax, ...]

    @classmethod
    def of(cls, invoice: Invoice) -> TaxCombination:
        taxes = (
            OneDeskTax(name=" ".join(line.description.split()), rate_percent=line.tax_rate_percent)
            for line in invoice.lines
            if line.kind is LineKind.TAX
        )
        return cls(taxes=tuple(sorted(taxes, key=_tax_order)))

    @property
    def key(self) -> str:
        """Stable identity: names compared case-insensitively, rates numerically ("" = no tax)."""
        return " + ".join(f"{tax.name.casefold()}@{_rate_key(tax.rate_percent)}" for tax in self.taxes)

    @property
    def label(self) -> str:
        return " + ".join(tax.label for tax in self.taxes) if self.taxes else "No tax"

    @property
    def rates(self) -> tuple[Decimal, ...] | None:
        """The rates in ascending order, or None when a tax is a fixed amount."""
        rates = [tax.rate_percent for tax in self.taxes]
        if any(rate is None for rate in rates):
            return None
        return tuple(sorted(rate for rate in rates if rate is not None))


def _rate_key(rate: Decimal | None) -> str:
    return "fixed" if rate is None else format_percent(rate)


def _tax_order(tax: OneDeskTax) -> tuple[str, Decimal]:
    return tax.name.casefold(), tax.rate_percent if tax.rate_percent is not None else Decimal(-1)


NO_TAX = TaxCombination(taxes=())


class SeenTaxes(_Frozen):
    """A combination of taxes met on a copied invoice: a row of the settings page's tax table."""

    combination: TaxCombination
    first_invoice_number: str
    first_seen_at: AwareDatetime


class TaxCatalog(_Frozen):
    """The QBO company's sales tax codes as last read, and the tax combinations copies have met."""

    codes: tuple[CatalogCode, ...] = ()
    read_at: AwareDatetime | None = None
    seen: tuple[SeenTaxes, ...] = ()

    def code(self, code_id: str) -> CatalogCode | None:
        return next((code for code in self.codes if code.code_id == code_id), None)

    def is_stale(self, now: datetime) -> bool:
        return self.read_at is None or now - self.read_at >= CATALOG_MAX_AGE

    def has_seen(self, combination: TaxCombination) -> bool:
        return any(seen.combination.key == combination.key for seen in self.seen)


def catalog_codes(codes: list[qbo.TaxCode], rates: list[qbo.TaxRate]) -> tuple[CatalogCode, ...]:
    """Active sales tax codes with every rate readable, by name; never the US line pseudo codes TAX/NON.
    A code without sales rates (purchase only) or with a rate we cannot read could never be checked."""
    by_id = {rate.Id: rate for rate in rates if rate.Id and rate.RateValue is not None}
    found: list[CatalogCode] = []
    for code in codes:
        if code.Active is False or not code.Id or code.Id in {US_TAXABLE, US_NOT_TAXABLE}:
            continue
        details = code.SalesTaxRateList.TaxRateDetail if code.SalesTaxRateList else []
        parts = [by_id.get(detail.TaxRateRef.value) for detail in details]
        if not parts or any(part is None for part in parts):
            continue
        found.append(
            CatalogCode(
                code_id=code.Id,
                name=code.Name,
                rates=tuple(
                    CodeRate(rate_id=str(part.Id), name=part.Name, percent=Decimal(str(part.RateValue)))
                    for part in parts
                    if part is not None
                ),
            )
        )
    return tuple(sorted(found, key=lambda code: (code.name.casefold(), code.code_id)))


# ------------------------------------------------------------------------------------------ choosing


@dataclass(frozen=True)
class TaxChoice:
    """What an invoice's lines carry and the tax QBO is expected to charge."""

    line_code: str  # TAX or NON (US), else the TaxCode Id every sales line carries
    code: CatalogCode | None  # the chosen code; None when untaxed (US) or QBO chooses (Automated Sales Tax)
    expected_tax: Decimal
    qbo_computes: bool = False  # Automated Sales Tax: the tax is QBO's, compared only after the write


class TaxNotCarried(Exception):
    """No QBO tax code can carry the invoice's taxes; ``reason`` says what the admin can do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Taxed:
    """An invoice's taxes: what OneDesk charged and on which base."""

    number: str
    combination: TaxCombination
    charged: Decimal
    base: Decimal


def taxable_base(invoice: Invoice) -> Decimal:
    """What OneDesk taxes: the time, custom and (negative) discount lines."""
    return sum((line.amount for line in invoice.lines if line.kind is not LineKind.TAX), ZERO)


def choose_tax(invoice: Invoice, mode: TaxMode, settings: TaxSettings, catalog: TaxCatalog) -> TaxChoice:
    """The tax code for ``invoice``, or ``TaxNotCarried`` naming what to create or choose."""
    combination = TaxCombination.of(invoice)
    charged = sum((line.amount for line in invoice.lines if line.kind is LineKind.TAX), ZERO)
    if mode is TaxMode.US_AUTOMATED:
        if not combination.taxes:
            return TaxChoice(US_NOT_TAXABLE, None, ZERO)
        return TaxChoice(US_TAXABLE, None, charged, qbo_computes=True)
    if mode is TaxMode.US and charged.is_zero() and not any(combination.rates or ()):
        return TaxChoice(US_NOT_TAXABLE, None, ZERO)  # no tax, or only 0 % taxes
    taxed = _Taxed(invoice.number, combination, charged, taxable_base(invoice))
    code = _fitting_code(taxed, settings, catalog)
    return TaxChoice(US_TAXABLE if mode is TaxMode.US else code.code_id, code, charged)


def ranked_codes(
    combination: TaxCombination, catalog: TaxCatalog, preferred: str | None
) -> tuple[list[CatalogCode], list[CatalogCode]]:
    """Codes with exactly the combination's rates, then codes with its total rate only."""
    rates = combination.rates
    if rates is None:
        return [], []

    def order(code: CatalogCode) -> tuple[bool, str, str]:
        return code.code_id != preferred, code.name.casefold(), code.code_id

    exact = [code for code in catalog.codes if tuple(sorted(r.percent for r in code.rates)) == rates]
    total = sum(rates, Decimal(0))
    same_total = [code for code in catalog.codes if code not in exact and code.percent == total]
    return sorted(exact, key=order), sorted(same_total, key=order)


def automatic_code(
    combination: TaxCombination, catalog: TaxCatalog, preferred: str | None
) -> CatalogCode | None:
    """The code chosen by rate when the admin has not chosen one (for the settings page)."""
    exact, same_total = ranked_codes(combination, catalog, preferred)
    return next(iter(exact + same_total), None)


def _fitting_code(taxed: _Taxed, settings: TaxSettings, catalog: TaxCatalog) -> CatalogCode:
    number, combination, charged, base = taxed.number, taxed.combination, taxed.charged, taxed.base
    label = combination.label
    if (override := settings.override_for(combination.key)) is not None:
        code = catalog.code(override)
        if code is None:
            raise TaxNotCarried(
                f"Invoice {number}: the QuickBooks Online tax code chosen for {label} under Administration > "
                "Financials no longer exists or is inactive. Choose another there, then copy again."
            )
        if (tax := code.tax_on(base)) != charged:
            raise TaxNotCarried(
                f"Invoice {number}: the tax code {code.label} chosen for {label} under Administration > "
                f"Financials charges {tax} on {base} but OneDesk shows {charged} (difference "
                f"{charged - tax}). Nothing was copied."
            )
        return code
    if combination.rates is None:
        raise TaxNotCarried(
            f"Invoice {number} charges {label}, a tax without a rate, and QuickBooks Online computes tax "
            "from rates. Choose the QuickBooks Online tax code for it under Administration > Financials, "
            "then copy again."
        )
    exact, same_total = ranked_codes(combination, catalog, settings.tax_code_id)
    for code in exact + same_total:
        if code.tax_on(base) == charged:
            return code
    raise TaxNotCarried(_no_fit(taxed, exact, same_total))


def _no_fit(taxed: _Taxed, exact: list[CatalogCode], same_total: list[CatalogCode]) -> str:
    number, combination, charged, base = taxed.number, taxed.combination, taxed.charged, taxed.base
    if not combination.taxes:
        return (
            f"Invoice {number} has no tax, but the QuickBooks Online company has no zero-rated tax code to "
            "put on its lines. Add one in QuickBooks Online, then copy again."
        )
    rates = " + ".join(
        format_percent(tax.rate_percent) for tax in combination.taxes if tax.rate_percent is not None
    )
    if exact:  # QBO has these rates: OneDesk's amount is not its own rates applied to the base
        tax = exact[0].tax_on(base)
        return (
            f"Invoice {number}: tax at {rates} on {base} is {tax} but OneDesk shows {charged} (difference "
            f"{charged - tax}). Nothing was copied."
        )
    if len(combination.taxes) > 1:
        create = f"a combined tax code of {combination.label}"
    else:
        create = f"a tax code with the rate {rates} ({combination.label})"
    if same_total:
        code = same_total[0]
        tax = code.tax_on(base)
        return (
            f"Invoice {number}: QuickBooks Online's tax code {code.label} charges {tax} on {base}, but "
            f"OneDesk's {combination.label} come to {charged} (difference {charged - tax}) because each "
            f"rate is rounded separately. Create {create} in QuickBooks Online, then copy again."
        )
    these = "these rates" if len(combination.taxes) > 1 else "this rate"
    return (
        f"Invoice {number} charges {combination.label}, but no QuickBooks Online tax code has {these}. "
        f"Create {create} in QuickBooks Online, then copy again."
    )
