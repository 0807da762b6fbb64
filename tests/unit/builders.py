"""Small builders for OneDesk invoices, QBO company profiles and tenant settings used by the unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import SecretStr

from qbo_sync.domain.invoice_mapping import CompanyProfile
from qbo_sync.domain.onedesk import (
    BillingContact,
    CustomerOrganization,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from qbo_sync.domain.taxes import CatalogCode, CodeRate, TaxCatalog
from qbo_sync.domain.tenant import TaxSettings, Tenant, TenantSettings, TriggerPolicy

TENANT = "acct-42"
REALM = "9130"
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
INCOME_ACCOUNT = "79"
SECRET = "s3cret-shared"

# US: a real TaxCode for the rate, TAX/NON on the lines. CA: the code on every line, "3" zero-rated.
US_TAX = TaxSettings(tax_code_id="7", tax_code_name="CA State", rate_percent=Decimal("8.25"))
CA_TAX = TaxSettings(tax_code_id="5", tax_code_name="HST ON", rate_percent=Decimal("13"))


def tax_code(code_id: str, name: str, *rates: tuple[str, str, str]) -> CatalogCode:
    """A catalog code from (rate id, rate name, percent) triples."""
    return CatalogCode(
        code_id=code_id,
        name=name,
        rates=tuple(CodeRate(rate_id=r, name=n, percent=Decimal(p)) for r, n, p in rates),
    )


# The companies' tax codes as the settings page stored them (read AT: fresh for a few minutes).
US_CATALOG = TaxCatalog(
    codes=(
        tax_code("7", "CA State", ("71", "CA State", "8.25")),
        tax_code("8", "Lakeside", ("81", "Lakeside State", "6"), ("82", "Lakeside County", "2.25")),
        tax_code("9", "Indiana", ("91", "Indiana", "7")),
    ),
    read_at=AT,
)
CA_CATALOG = TaxCatalog(
    codes=(
        tax_code("3", "Exempt", ("31", "Exempt", "0")),
        tax_code("4", "GST", ("41", "GST", "5")),
        tax_code("5", "HST ON", ("51", "HST ON", "13")),
        tax_code("6", "GST/PST BC", ("41", "GST", "5"), ("61", "PST BC", "7")),
    ),
    read_at=AT,
)


def time_line(
    description: str = "Fix login page",
    service_type: str = "Support",
    hours: str = "1.5",
    rate: str = "120",
    amount: str = "180.00",
    line_id: str = "t1",
) -> InvoiceLine:
    return InvoiceLine(
        id=line_id,
        kind=LineKind.TIME,
        description=description,
        service_type=service_type,
        hours=Decimal(hours),
        rate=Decimal(rate),
        amount=Decimal(amount),
        tax_rate_percent=None,
    )


def custom_line(
    description: str = "Server setup fee", amount: str = "50.00", service_type: str | None = None
) -> InvoiceLine:
    return InvoiceLine(
        id="c1",
        kind=LineKind.CUSTOM,
        description=description,
        service_type=service_type,
        hours=None,
        rate=None,
        amount=Decimal(amount),
        tax_rate_percent=None,
    )


def discount_line(amount: str, description: str = "Loyalty discount") -> InvoiceLine:
    return InvoiceLine(
        id=f"d-{description}",
        kind=LineKind.DISCOUNT,
        description=description,
        service_type=None,
        hours=None,
        rate=None,
        amount=Decimal(amount),
        tax_rate_percent=None,
    )


def tax_line(amount: str, rate_percent: str = "8.25", description: str = "Sales tax") -> InvoiceLine:
    return InvoiceLine(
        id=f"x-{description}-{rate_percent}",
        kind=LineKind.TAX,
        description=description,
        service_type=None,
        hours=None,
        rate=None,
        amount=Decimal(amount),
        tax_rate_percent=Decimal(rate_percent),
    )


def organization(
    name: str = "Globex", contact_name: str | None = "Pat Payer", email: str | None = "ap@globex.test"
) -> CustomerOrganization:
    return CustomerOrganization(
        id="org-7", name=name, billing_contact=BillingContact(name=contact_name, email=email)
    )


def make_invoice(
    *lines: InvoiceLine,
    invoice_id: str = "1003",
    number: str = "INV-0001",
    status: InvoiceStatus = InvoiceStatus.OPEN,
    org: CustomerOrganization | None = None,
    currency: str = "USD",
    total: str | None = None,
    modified_at: datetime = AT,
) -> Invoice:
    """An invoice whose total is the sum of its (signed) lines unless ``total`` says otherwise."""
    lines = lines or (time_line(),)
    computed = sum((line.amount for line in lines), Decimal("0.00"))
    billable = sum(
        (line.amount for line in lines if line.kind in (LineKind.TIME, LineKind.CUSTOM)), Decimal("0.00")
    )
    amount = Decimal(total) if total is not None else computed
    return Invoice(
        id=invoice_id,
        number=number,
        status=status,
        organization=org or organization(),
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        currency=currency,
        lines=lines,
        subtotal=billable,
        total=amount,
        amount_paid=Decimal("0.00"),
        balance=amount,
        modified_at=modified_at,
    )


def us_company(**fields: object) -> CompanyProfile:
    return CompanyProfile.model_validate(
        {"realm_id": REALM, "country": "US", "home_currency": "USD", **fields}
    )


def ast_company(**fields: object) -> CompanyProfile:
    return us_company(automated_sales_tax=True, **fields)


def ca_company(**fields: object) -> CompanyProfile:
    return CompanyProfile.model_validate(
        {"realm_id": REALM, "country": "CA", "home_currency": "CAD", **fields}
    )


def settings(tax: TaxSettings = US_TAX, income_account: str | None = INCOME_ACCOUNT) -> TenantSettings:
    return TenantSettings(
        realm_id=REALM,
        default_income_account_id=income_account,
        default_income_account_name="Services" if income_account else None,
        tax=tax,
    )


def tenant(policy: TriggerPolicy | None = None) -> Tenant:
    return Tenant(
        tenant_id=TENANT,
        name="Acme Support",
        onedesk_api_key=SecretStr("od-key"),
        shared_secret=SecretStr(SECRET),
        trigger_policy=policy or TriggerPolicy(),
    )
