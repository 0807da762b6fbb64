"""The QBO tax code for an invoice being copied.

The company's tax codes come from the snapshot stored with the tenant (written whenever the admin opens
or saves the settings page), so a copy makes no QBO request for them. TaxCode and TaxRate are absent from
CDC and change only in QBO's UI, so the snapshot can be behind: when no code fits the invoice and the
snapshot is older than ``CATALOG_MAX_AGE`` (10 minutes), the copy reads them again (two queries) and
tries once more; only then is the invoice refused. Each new combination of OneDesk taxes is recorded on
its first sighting (copied or refused) so the admin can map it on the settings page.
"""

from __future__ import annotations

from datetime import datetime

from qbo_sync.domain import qbo
from qbo_sync.domain.invoice_mapping import CompanyProfile, CopyRefused
from qbo_sync.domain.onedesk import Invoice
from qbo_sync.domain.taxes import (
    CatalogCode,
    SeenTaxes,
    TaxCatalog,
    TaxChoice,
    TaxCombination,
    TaxMode,
    TaxNotCarried,
    catalog_codes,
    choose_tax,
)
from qbo_sync.domain.tenant import TaxSettings
from qbo_sync.ports.qbo import QboPort
from qbo_sync.ports.store import TaxCatalogStore


def read_tax_codes(client: QboPort) -> tuple[CatalogCode, ...]:
    """The company's active sales tax codes with their rates: two queries."""
    rates = client.query(qbo.TaxRate).entity
    return catalog_codes(client.query(qbo.TaxCode).entity, rates)


def choose_invoice_tax(
    invoice: Invoice,
    *,
    tenant_id: str,
    company: CompanyProfile,
    settings: TaxSettings,
    catalogs: TaxCatalogStore,
    client: QboPort,
    now: datetime,
) -> TaxChoice:
    """The tax choice for ``invoice``, or ``CopyRefused`` saying what to create or choose."""
    mode, realm = company.tax_mode, company.realm_id
    combination = TaxCombination.of(invoice)
    if mode is TaxMode.US_AUTOMATED or (mode is TaxMode.US and not combination.taxes):
        return choose_tax(invoice, mode, settings, TaxCatalog())  # TAX/NON only: no code to look up
    catalog = catalogs.get_tax_catalog(tenant_id, realm)
    if combination.taxes and not catalog.has_seen(combination):
        seen = SeenTaxes(combination=combination, first_invoice_number=invoice.number, first_seen_at=now)
        catalogs.record_taxes_seen(tenant_id, realm, seen)
    try:
        return choose_tax(invoice, mode, settings, catalog)
    except TaxNotCarried as not_carried:
        if not catalog.is_stale(now):
            raise CopyRefused(not_carried.reason) from None
    codes = read_tax_codes(client)
    catalogs.save_tax_codes(tenant_id, realm, codes, now)
    try:
        return choose_tax(
            invoice, mode, settings, catalog.model_copy(update={"codes": codes, "read_at": now})
        )
    except TaxNotCarried as still:
        raise CopyRefused(still.reason) from None
