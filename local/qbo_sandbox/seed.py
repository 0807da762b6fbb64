"""The seeded sandbox companies (spec: "Seeded state")."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.store import Company, Record

US_REALM = "9130350000000001"
CA_REALM = "9130350000000002"
FIRST_EXTRA_REALM = 9130350000000003

SERVICES_ACCOUNT = "79"
PRODUCT_INCOME_ACCOUNT = "80"
DISCOUNT_ACCOUNT = "81"
UNDEPOSITED_FUNDS_ACCOUNT = "4"

# (TaxCode id, name, [(TaxRate id, name, percent)]). A code groups one or more rates (§2 TaxCode).
TaxCodeSeed = tuple[str, str, list[tuple[str, str, Decimal]]]
US_TAX_CODES: list[TaxCodeSeed] = [
    ("2", "California", [("1", "California", Decimal("8.25"))]),
    # A combined US code: a 6 % state rate and a 2.25 % county rate, 8.25 % in all.
    ("3", "Lakeside", [("2", "Lakeside State", Decimal(6)), ("3", "Lakeside County", Decimal("2.25"))]),
    ("4", "Indiana", [("4", "Indiana", Decimal(7))]),
]
# Canada: GST 5 %, HST ON 13 %, and PST as QBO ships it, a combined "GST/PST BC" code (GST 5 % + PST 7 %).
CA_TAX_CODES: list[TaxCodeSeed] = [
    ("3", "GST", [("1", "GST", Decimal(5))]),
    ("4", "HST ON", [("2", "HST ON", Decimal(13))]),
    ("5", "Exempt", [("3", "Exempt", Decimal(0))]),
    ("6", "GST/PST BC", [("1", "GST", Decimal(5)), ("4", "PST BC", Decimal(7))]),
]
# United Kingdom: QBO's VAT codes (standard, reduced, zero-rated, and out of scope).
GB_TAX_CODES: list[TaxCodeSeed] = [
    ("3", "20.0% S", [("1", "20.0% S", Decimal(20))]),
    ("4", "5.0% R", [("2", "5.0% R", Decimal(5))]),
    ("5", "0.0% Z", [("3", "0.0% Z", Decimal(0))]),
    ("6", "No VAT", [("4", "NO VAT", Decimal(0))]),
]
TAX_CODES = {"US": US_TAX_CODES, "CA": CA_TAX_CODES, "GB": GB_TAX_CODES}
FIRST_CREATED_TAX_ID = 100  # Automated Sales Tax creates codes and rates: above the seeded ids


def _address(line1: str, city: str, region: str, postal: str, country: str) -> dict[str, str]:
    return {
        "Line1": line1,
        "City": city,
        "CountrySubDivisionCode": region,
        "PostalCode": postal,
        "Country": country,
    }


def _ref(value: str, name: str) -> dict[str, str]:
    return {"value": value, "name": name}


COMPANY_ADDRESSES = {
    "US": _address("123 Sierra Way", "San Pablo", "CA", "87999", "USA"),
    "CA": _address("100 King Street West", "Toronto", "ON", "M5X 1A9", "CAN"),
    "GB": _address("1 Poultry", "London", "", "EC2R 8EJ", "GBR"),
}
CUSTOMER_ADDRESSES = {
    "US": (
        _address("4581 Finch St.", "Bayshore", "CA", "94326", "USA"),
        _address("12 Ocean Dr.", "Half Moon Bay", "CA", "94213", "USA"),
    ),
    "CA": (
        _address("45 Finch Avenue", "Ottawa", "ON", "K1A 0B1", "CAN"),
        _address("12 Harbour Street", "Toronto", "ON", "M5J 2L2", "CAN"),
    ),
    "GB": (
        _address("45 Finch Lane", "Bristol", "", "BS1 4DJ", "GBR"),
        _address("12 Harbour Walk", "Brighton", "", "BN2 1TW", "GBR"),
    ),
}


def _company_info(company: Company) -> dict[str, Any]:
    address = COMPANY_ADDRESSES[company.country]
    return {
        "CompanyName": company.name,
        "LegalName": company.name,
        "CompanyAddr": address,
        "CustomerCommunicationAddr": address,
        "LegalAddr": address,
        "Country": company.country,
        "Email": {"Address": "noreply@quickbooks.com"},
        "WebAddr": {},
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Sandbox"},
            {"Name": "ItemCategoriesFeature", "Value": "true"},
        ],
    }


def _preferences(company: Company, custom_txn_numbers: bool, automated_sales_tax: bool) -> dict[str, Any]:
    currency = company.currency_ref["value"]
    return {
        "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False},
        "SalesFormsPrefs": {
            "CustomTxnNumbers": custom_txn_numbers,
            "AllowDiscount": True,
            "AllowShipping": False,
            "AllowServiceDate": True,
            "AllowDeposit": False,
            "DefaultTerms": {"value": "3"},
            "AutoApplyPayments": True,
            "ETransactionEnabledStatus": "NotApplicable",
        },
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": currency}},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": automated_sales_tax},
        "EmailMessagesPrefs": {
            "InvoiceMessage": {
                "Subject": f"Invoice from {company.name}",
                "Message": "Your invoice is attached. We appreciate your business.",
            }
        },
    }


def _account(name: str, account_type: str, sub_type: str, classification: str) -> dict[str, Any]:
    return {
        "Name": name,
        "SubAccount": False,
        "FullyQualifiedName": name,
        "Active": True,
        "Classification": classification,
        "AccountType": account_type,
        "AccountSubType": sub_type,
        "CurrentBalance": Decimal("0.00"),
        "CurrentBalanceWithSubAccounts": Decimal("0.00"),
    }


def _customer(
    company: Company, name: str, email: str, address: dict[str, str], *, active: bool
) -> dict[str, Any]:
    return {
        "DisplayName": name,
        "CompanyName": name,
        "PrintOnCheckName": name,
        "FullyQualifiedName": name,
        "Active": active,
        "Taxable": company.is_us,
        "Job": False,
        "BillWithParent": False,
        "PrimaryEmailAddr": {"Address": email},
        "BillAddr": address,
        "ShipAddr": address,
        "CurrencyRef": company.currency_ref,
        "PreferredDeliveryMethod": "Email",
    }


def _service_item(name: str, price: Decimal) -> dict[str, Any]:
    return {
        "Name": name,
        "FullyQualifiedName": name,
        "Description": name,
        "Active": True,
        "Type": "Service",
        "Taxable": False,
        "UnitPrice": price,
        "IncomeAccountRef": _ref(SERVICES_ACCOUNT, "Services"),
        "TrackQtyOnHand": False,
    }


def insert_tax_code(
    company: Company,
    now: datetime,
    name: str,
    rates: Sequence[tuple[str | None, str, Decimal]],
    code_id: str | None = None,
) -> Record:
    """A sales TaxCode grouping ``rates`` (id, name, percent; a rate already stored is reused, a None id
    is allocated) with its TaxRates; returns the TaxCode record."""
    details = []
    for rate_id, rate_name, percent in rates:
        rate = company.get("TaxRate", rate_id) if rate_id else None
        if rate is None:
            rate = company.insert(
                "TaxRate",
                {
                    "Name": rate_name,
                    "Description": rate_name,
                    "Active": True,
                    "RateValue": percent,
                    "AgencyRef": {"value": "1"},
                    "SpecialTaxType": "NONE",
                    "DisplayType": "ReadOnly",
                },
                now,
                entity_id=rate_id,
            )
        details.append(
            {"TaxRateRef": _ref(rate.id, rate_name), "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
        )
    return company.insert(
        "TaxCode",
        {
            "Name": name,
            "Description": name,
            "Active": True,
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": {"TaxRateDetail": details},
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        },
        now,
        entity_id=code_id,
    )


def _seed_taxes(company: Company, now: datetime, automated_sales_tax: bool) -> None:
    if company.is_us:
        # US line-level pseudo codes; the rate comes from TxnTaxDetail.TxnTaxCodeRef (§2).
        for code, description, taxable in (("TAX", "TAX", True), ("NON", "Non", False)):
            company.insert(
                "TaxCode",
                {
                    "Name": code,
                    "Description": description,
                    "Active": True,
                    "Taxable": taxable,
                    "TaxGroup": False,
                },
                now,
                entity_id=code,
            )
    # Automated Sales Tax creates its own codes as transactions need them (automated_tax.py).
    for code_id, code_name, rates in [] if automated_sales_tax else TAX_CODES[company.country]:
        insert_tax_code(company, now, code_name, rates, code_id)
    company.sequences["TaxCode"] = company.sequences["TaxRate"] = FIRST_CREATED_TAX_ID


def seed_company(
    realm_id: str,
    name: str,
    country: str,
    custom_txn_numbers: bool,
    now: datetime,
    automated_sales_tax: bool = False,
) -> Company:
    company = Company(realm_id=realm_id, name=name, country=country)
    company.insert("CompanyInfo", _company_info(company), now, entity_id=realm_id)
    preferences = _preferences(company, custom_txn_numbers, automated_sales_tax)
    company.insert("Preferences", preferences, now, entity_id="1")

    accounts = [
        (UNDEPOSITED_FUNDS_ACCOUNT, "Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
        (SERVICES_ACCOUNT, "Services", "Income", "ServiceFeeIncome", "Revenue"),
        (PRODUCT_INCOME_ACCOUNT, "Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
        (DISCOUNT_ACCOUNT, "Discounts given", "Income", "DiscountsRefundsGiven", "Revenue"),
    ]
    for account_id, account_name, account_type, sub_type, classification in accounts:
        company.insert(
            "Account", _account(account_name, account_type, sub_type, classification), now, account_id
        )
    company.sequences["Account"] = 100

    _seed_taxes(company, now, automated_sales_tax)

    amy, bill = CUSTOMER_ADDRESSES[country]
    company.insert(
        "Customer", _customer(company, "Amy's Bird Sanctuary", "Birds@Intuit.com", amy, active=True), now
    )
    company.insert(
        "Customer", _customer(company, "Bill's Windsurf Shop", "Surf@Intuit.com", bill, active=True), now
    )
    company.insert("Customer", _customer(company, "Old Customer", "old@example.com", amy, active=False), now)

    company.insert(
        "Vendor",
        {
            "DisplayName": "Norton Lumber and Building Materials",
            "CompanyName": "Norton Lumber and Building Materials",
            "PrintOnCheckName": "Norton Lumber and Building Materials",
            "Active": True,
            "Vendor1099": False,
            "CurrencyRef": company.currency_ref,
            "Balance": Decimal("0.00"),
        },
        now,
    )
    company.insert(
        "Employee",
        {
            "DisplayName": "Emily Platt",
            "GivenName": "Emily",
            "FamilyName": "Platt",
            "PrintOnCheckName": "Emily Platt",
            "Active": True,
            "BillableTime": False,
        },
        now,
    )
    company.insert("Item", _service_item("Hours", Decimal(0)), now)
    company.insert("Item", _service_item("Design", Decimal(75)), now)
    return company


def seed_default_companies(now: datetime) -> dict[str, Company]:
    """The two companies every reset brings back (more are added through the control API)."""
    return {
        US_REALM: seed_company(US_REALM, "Sandbox Company US", "US", True, now),
        CA_REALM: seed_company(CA_REALM, "Sandbox Company CA", "CA", False, now),
    }
