"""US Automated Sales Tax (AST), as far as it is documented.

Facts (Intuit's developer blog "Using QuickBooks Online API for automated sales tax", and its guide to
US sales tax): every US company created after November 10, 2017 uses AST, which an app detects with
``Preferences.TaxPrefs.PartnerTaxEnabled`` (minor version >= 3). The engine determines the tax from the
source address (the company's) and the destination (the transaction's shipping address, else the
company address); it assigns the TaxCode (a code AST creates) and computes the amount. A TaxCode an app
assigns on a transaction "will be overridden by AST". Intuit's own sandbox companies do not run AST, so
nothing here could be checked against one.

Choices of this emulator: the destination is the invoice's ShipAddr, else the customer's (QBO fills a
transaction's addresses from the customer), else the company address; its CountrySubDivisionCode picks a
jurisdiction from ``JURISDICTIONS`` (sample rates, not real ones); any other region charges no tax. The
jurisdiction's code is created on first use and becomes the invoice's TxnTaxCodeRef, whatever code the
request sent. An explicit TotalTax (which the blog says AST honours and prorates) is not modelled.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.invoice_math import TaxCode, TaxRate
from local.qbo_sandbox.seed import insert_tax_code
from local.qbo_sandbox.store import Company

# Region -> (TaxCode name, [(TaxRate name, percent)]).
JURISDICTIONS: dict[str, tuple[str, list[tuple[str, Decimal]]]] = {
    "CA": (
        "California (AST)",
        [("California State", Decimal("7.25")), ("Contra Costa District", Decimal(1))],
    ),
    "NY": (
        "New York City (AST)",
        [("New York State", Decimal(4)), ("New York City", Decimal("4.5")), ("MCTD", Decimal("0.375"))],
    ),
    "TX": (
        "Austin (AST)",
        [("Texas State", Decimal("6.25")), ("Austin City", Decimal(1)), ("Austin MTA", Decimal(1))],
    ),
}


def _region(address: object) -> str:
    return str(address.get("CountrySubDivisionCode") or "") if isinstance(address, dict) else ""


def destination_region(company: Company, doc: dict[str, Any], customer: dict[str, Any]) -> str:
    company_address = company.records["CompanyInfo"][company.realm_id].data.get("CompanyAddr")
    for address in (doc.get("ShipAddr"), customer.get("ShipAddr"), company_address):
        if region := _region(address):
            return region
    return ""


def automated_tax_code(
    company: Company, doc: dict[str, Any], customer: dict[str, Any], now: datetime
) -> TaxCode | None:
    """The code AST assigns to this sales form (created on first use), or None where it charges no tax."""
    jurisdiction = JURISDICTIONS.get(destination_region(company, doc, customer))
    if jurisdiction is None:
        return None
    name, rates = jurisdiction
    record = company.find_by_name("TaxCode", name) or insert_tax_code(
        company, now, name, [(None, rate_name, percent) for rate_name, percent in rates]
    )
    found = []
    for detail in record.data["SalesTaxRateList"]["TaxRateDetail"]:
        rate = company.require("TaxRate", detail["TaxRateRef"]["value"])
        found.append(TaxRate(rate.id, str(rate.data["Name"]), Decimal(rate.data["RateValue"])))
    return TaxCode(record.id, name, tuple(found))
