"""Store ports: tenants, settings, id mappings, watermarks, parked work and the audit log.

All of it lives in one DynamoDB table (adapters/store); these protocols are what use cases see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from qbo_sync.domain.audit import AuditRecord
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.domain.taxes import CatalogCode, SeenTaxes, TaxCatalog
from qbo_sync.domain.tenant import Tenant, TenantSettings


class LinkState(StrEnum):
    PENDING = "pending"  # a create was attempted; its outcome may be unknown
    DONE = "done"


class QboGone(StrEnum):
    """What happened to the QBO invoice in QBO (learnt from its webhook or CDC event, or a read): the
    next copy creates a new one instead of updating it."""

    DELETED = "deleted"
    VOIDED = "voided"


class InvoiceLink(BaseModel):
    """OneDesk invoice <-> QBO invoice, and what was last sent (invariants 1 and 2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str
    realm_id: str
    invoice_id: str
    invoice_number: str
    state: LinkState
    generation: int = 0  # bumped when the QBO invoice was deleted and a new one must be created
    create_request_id: str
    customer_id: str
    qbo_invoice_id: str | None = None
    qbo_doc_number: str | None = None
    sync_token: str | None = None
    content_hash: str | None = None
    synced_modified_at: datetime | None = None
    reported_hash: str | None = None  # content hash OneDesk was last told about (write-back done)
    unpaid_status: InvoiceStatus | None = None
    # QBO's invoice as our last write left it (domain/invoice_state.py): a different one is an edit in QBO.
    qbo_fingerprint: str | None = None
    qbo_total: Decimal | None = None  # QBO's TotalAmt after our last write
    # QBO's LastUpdatedTime after our last update, until QBO's announcement of that update has been seen.
    echo_expected_at: datetime | None = None
    qbo_gone: QboGone | None = None
    conflict_since: datetime | None = None  # edited in QBO: nothing is written until the admin decides
    auto_send_declined: bool = False  # an admin chose not to email it: automatic sends never will


class InvoiceConflict(BaseModel):
    """A QBO invoice a bookkeeper edited since our last write, while OneDesk has something else to write.

    Kept until the admin decides on the settings page: overwrite QBO's version from OneDesk, or keep it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str
    realm_id: str
    invoice_id: str
    invoice_number: str
    qbo_invoice_id: str
    qbo_doc_number: str | None = None
    detected_at: datetime
    qbo_sync_token: str  # QBO's edited version
    qbo_fingerprint: str
    qbo_total: Decimal | None
    onedesk_total: Decimal
    onedesk_content_hash: str  # what OneDesk wanted to write when the edit was found
    differences: str


class StaleLink(Exception):
    """Another worker changed the link first (conditional write lost)."""


class TaxCatalogStore(Protocol):
    """A snapshot of the QBO company's tax codes and the OneDesk tax combinations copies met, kept apart
    from the admin's settings so that neither write can undo the other."""

    def get_tax_catalog(self, tenant_id: str, realm_id: str) -> TaxCatalog:
        """What is known (an empty catalog, ``read_at`` None, when nothing is)."""
        ...

    def save_tax_codes(
        self, tenant_id: str, realm_id: str, codes: Sequence[CatalogCode], read_at: datetime
    ) -> None:
        """Replace the codes; the combinations seen are kept."""
        ...

    def record_taxes_seen(self, tenant_id: str, realm_id: str, seen: SeenTaxes) -> None:
        """Add ``seen`` unless its combination is already known (the first sighting stays)."""
        ...


class TenantStore(TaxCatalogStore, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def save_tenant(self, tenant: Tenant) -> None: ...
    def list_tenants(self) -> list[Tenant]: ...
    def get_settings(self, tenant_id: str, realm_id: str) -> TenantSettings | None: ...
    def save_settings(self, tenant_id: str, settings: TenantSettings) -> None: ...
    def get_watermark(self, tenant_id: str, name: str) -> datetime | None: ...
    def set_watermark(self, tenant_id: str, name: str, at: datetime) -> None: ...


class MappingStore(Protocol):
    def customer_id(self, tenant_id: str, realm_id: str, organization_id: str) -> str | None: ...
    def link_customer(
        self, tenant_id: str, realm_id: str, organization_id: str, customer_id: str
    ) -> None: ...
    def item_ids(self, tenant_id: str, realm_id: str, names: Iterable[str]) -> dict[str, str]: ...
    def link_items(self, tenant_id: str, realm_id: str, item_ids: Mapping[str, str]) -> None: ...
    def invoice_link(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceLink | None: ...

    def begin_create(self, link: InvoiceLink, replaces: InvoiceLink | None) -> None:
        """Write a pending link before a create; raises StaleLink if ``replaces`` is no longer current."""
        ...

    def save_link(self, link: InvoiceLink) -> None: ...
    def link_for_qbo_invoice(self, realm_id: str, qbo_invoice_id: str) -> InvoiceLink | None: ...

    def payment_invoices(self, tenant_id: str, realm_id: str, payment_id: str) -> set[str]:
        """QBO invoice ids the payment was applied to when we last saw it (for edits, deletes, voids)."""
        ...

    def remember_payment_invoices(
        self, tenant_id: str, realm_id: str, payment_id: str, invoice_ids: set[str]
    ) -> None:
        """Add to what the payment is known to have touched (a set union: concurrent writers all win)."""
        ...

    def remember_unpaid_status(self, link: InvoiceLink, status: InvoiceStatus) -> None:
        """What OneDesk shows for this invoice while nothing is paid (Open, or Sent), for when a payment
        is deleted or voided after OneDesk showed it (Partially) Paid."""
        ...

    def take_expected_echo(self, link: InvoiceLink) -> bool:
        """Consume the announcement of our last update that ``link`` expects: True for the one caller that
        takes it (a repeat, or a bookkeeper's edit in the same second, then reads QBO as usual)."""
        ...

    def mark_qbo_invoice_gone(self, link: InvoiceLink, gone: QboGone) -> None:
        """The QBO invoice ``link`` points at was deleted or voided in QBO; a no-op once the link points
        at another QBO invoice (a late event about one already replaced)."""
        ...

    def save_conflict(self, conflict: InvoiceConflict) -> None: ...
    def conflict(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceConflict | None: ...
    def conflicts(self, tenant_id: str, realm_id: str) -> list[InvoiceConflict]: ...
    def close_conflict(self, conflict: InvoiceConflict) -> None: ...


class ParkedWork(Protocol):
    """Commands waiting for settings or a reconnect (issue [connect]): parked, never failed."""

    def park(self, command: InvoiceCommand, reason: str) -> None: ...
    def parked(self, tenant_id: str) -> list[InvoiceCommand]: ...
    def count_parked(self, tenant_id: str) -> int: ...
    def parked_command(
        self, tenant_id: str, invoice_id: str, action: InvoiceAction
    ) -> InvoiceCommand | None: ...
    def unpark(self, command: InvoiceCommand) -> None:
        """Remove ``command`` unless it was replaced meanwhile (parked again, or a newer one)."""
        ...


class RequestLog(Protocol):
    """Signed requests already honoured: a replay inside the signature window must do nothing."""

    def claim(self, tenant_id: str, request_id: str, now: datetime, until: datetime) -> bool:
        """Record the request until ``until``; False when it is already recorded (a replay)."""
        ...

    def release(self, tenant_id: str, request_id: str) -> None:
        """Forget the request (it failed before taking effect), so that its retry is honoured."""
        ...


class AuditLog(Protocol):
    def record(self, record: AuditRecord) -> None: ...
    def recent(self, tenant_id: str, limit: int = 20) -> list[AuditRecord]: ...
    def invoice_history(self, tenant_id: str, invoice_id: str) -> list[AuditRecord]:
        """Every decision about one invoice, oldest first."""
        ...
