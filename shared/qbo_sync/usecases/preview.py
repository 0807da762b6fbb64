"""A dry run of one invoice command (the operator's ``preview INVOICE``): the very same copy logic as
``handle_invoice_command``, with every write replaced by a record of it.

- QBO: reads (queries, reads) go to QBO and are listed; writes are listed with their payload and
  ``requestid`` and answered with placeholders (``dry-run-N`` ids, SyncToken moved on, no TotalAmt since
  only QBO computes it). So the list is what the copy would send, in order, until the first write whose
  real answer would matter (e.g. a 5010 or a 6240 cannot be foreseen).
- The store: reads see what is stored, plus this run's own writes; nothing is written.
- OneDesk: reads as usual; writes (reference, message, tags) are listed, not made.
- Audit and the delivery queue: listed, not written or sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import AuditRecord
from qbo_sync.domain.commands import DeliveryCommand, InvoiceCommand
from qbo_sync.domain.onedesk import (
    AccountProfile,
    Invoice,
    InvoiceStatus,
    PaymentState,
    QboReference,
    SyncMessage,
    Tag,
)
from qbo_sync.domain.taxes import CatalogCode, SeenTaxes, TaxCatalog
from qbo_sync.ports.onedesk import OneDeskPort
from qbo_sync.ports.qbo import BatchOutcome, CdcChanges, Condition, QboPort, QboResult
from qbo_sync.ports.store import InvoiceConflict, InvoiceLink, MappingStore, QboGone, TaxCatalogStore
from qbo_sync.usecases.copy_invoice import CopyContext, CopyPorts, CopyResult, copy_invoice
from qbo_sync.usecases.invoice_commands import CommandPorts, command_context, copy_ports


@dataclass(frozen=True)
class QboRequest:
    """One request the copy makes: ``write`` ones were not sent."""

    method: Literal["GET", "POST"]
    operation: str  # query, read, create, update, batch, send, void, cdc, companyinfo, preferences
    entity: str
    request_id: str | None = None
    entity_id: str | None = None
    payload: object = None
    write: bool = False


@dataclass(frozen=True)
class CopyPreview:
    """What the command would do. ``result`` is None when it would not run at all (``refused``: final, or
    ``blocked``: parked until the admin fixes it)."""

    result: CopyResult | None
    refused: str | None = None
    blocked: str | None = None
    qbo_requests: list[QboRequest] = field(default_factory=list)
    onedesk_writes: list[tuple[str, object]] = field(default_factory=list)
    store_writes: list[tuple[str, object]] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    deliveries: list[DeliveryCommand] = field(default_factory=list)

    @property
    def qbo_writes(self) -> list[QboRequest]:
        return [request for request in self.qbo_requests if request.write]


def preview_invoice_command(command: InvoiceCommand, ports: CommandPorts) -> CopyPreview:
    """The dry run of ``handle_invoice_command``: the same checks (plan, connection, settings), then the
    copy with dry-run ports."""
    context = command_context(command, ports)
    if context.refused is not None:
        return CopyPreview(result=None, refused=context.refused)
    if context.blocked is not None:
        return CopyPreview(result=None, blocked=context.blocked)
    assert context.copy is not None
    return preview_copy(command, context.copy, copy_ports(context, ports))


def preview_copy(command: InvoiceCommand, ctx: CopyContext, ports: CopyPorts) -> CopyPreview:
    qbo_port = DryRunQbo(ports.qbo)
    onedesk = DryRunOneDesk(ports.onedesk)
    mappings = DryRunMappings(ports.mappings)
    audit = RecordingAudit()
    deliveries = RecordingDeliveries()
    dry = CopyPorts(
        onedesk=onedesk,
        qbo=qbo_port,
        mappings=mappings,
        audit=audit,
        deliveries=deliveries,
        tax_catalogs=DryRunTaxCatalogs(ports.tax_catalogs, mappings.writes),
        clock=ports.clock,
    )
    result = copy_invoice(command, ctx, dry)
    return CopyPreview(
        result=result,
        qbo_requests=qbo_port.requests,
        onedesk_writes=onedesk.writes,
        store_writes=mappings.writes,
        audit=audit.records,
        deliveries=deliveries.deliveries,
    )


# ------------------------------------------------------------------------------------------ QBO
class DryRunQbo:
    """QboPort: reads pass through (and are listed), writes are listed and answered with placeholders."""

    def __init__(self, inner: QboPort) -> None:
        self._inner = inner
        self._ids = itertools.count(1)
        self.requests: list[QboRequest] = []

    @property
    def realm_id(self) -> str:
        return self._inner.realm_id

    def query[E: qbo.Entity](
        self, entity: type[E], where: Sequence[Condition] = (), *, include_inactive: bool = False
    ) -> QboResult[list[E]]:
        conditions = [f"{c.field} {c.op} {', '.join(map(str, c.values))}" for c in where]
        self.requests.append(QboRequest("POST", "query", entity.__name__, payload=conditions))
        return self._inner.query(entity, where, include_inactive=include_inactive)

    def read[E: qbo.Entity](self, entity: type[E], entity_id: str) -> QboResult[E]:
        self.requests.append(QboRequest("GET", "read", entity.__name__, entity_id=entity_id))
        return self._inner.read(entity, entity_id)

    def create[E: qbo.Entity](self, entity: E, *, request_id: str) -> QboResult[E]:
        self._write("create", type(entity).__name__, request_id, payload=entity.payload())
        return QboResult(self._placeholder(entity), request_id=request_id)

    def sparse_update[E: qbo.Entity](
        self,
        entity: type[E],
        entity_id: str,
        sync_token: str,
        fields: Mapping[str, object],
        *,
        request_id: str,
    ) -> QboResult[E]:
        payload = {**fields, "Id": entity_id, "SyncToken": sync_token, "sparse": True}
        self._write("update", entity.__name__, request_id, entity_id=entity_id, payload=payload)
        moved_on = str(int(sync_token) + 1) if sync_token.isdigit() else sync_token
        answer = entity.model_validate({**fields, "Id": entity_id, "SyncToken": moved_on})
        return QboResult(answer, request_id=request_id)

    def batch_create(self, entities: Sequence[qbo.Entity], *, request_id: str) -> list[BatchOutcome]:
        self._write("batch", "Batch", request_id, payload=[e.payload() for e in entities])
        return [BatchOutcome(entity=self._placeholder(e), error=None) for e in entities]

    def send_invoice(self, invoice_id: str, send_to: str, *, request_id: str) -> QboResult[qbo.Invoice]:
        self._write("send", "Invoice", request_id, entity_id=invoice_id, payload={"sendTo": send_to})
        return QboResult(_invoice_placeholder(invoice_id), request_id=request_id)

    def void_invoice(self, invoice_id: str, sync_token: str, *, request_id: str) -> QboResult[qbo.Invoice]:
        payload = {"Id": invoice_id, "SyncToken": sync_token}
        self._write("void", "Invoice", request_id, entity_id=invoice_id, payload=payload)
        return QboResult(_invoice_placeholder(invoice_id), request_id=request_id)

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> QboResult[CdcChanges]:
        self.requests.append(QboRequest("GET", "cdc", ",".join(entities), payload=changed_since.isoformat()))
        return self._inner.cdc(entities, changed_since)

    def company_info(self) -> QboResult[qbo.CompanyInfo]:
        self.requests.append(QboRequest("GET", "companyinfo", "CompanyInfo"))
        return self._inner.company_info()

    def preferences(self) -> QboResult[qbo.Preferences]:
        self.requests.append(QboRequest("GET", "preferences", "Preferences"))
        return self._inner.preferences()

    def _write(
        self, operation: str, entity: str, request_id: str, *, entity_id: str | None = None, payload: object
    ) -> None:
        self.requests.append(
            QboRequest("POST", operation, entity, request_id, entity_id, payload=payload, write=True)
        )

    def _placeholder[E: qbo.Entity](self, entity: E) -> E:
        return entity.model_copy(update={"Id": f"dry-run-{next(self._ids)}", "SyncToken": "0"}, deep=True)


def _invoice_placeholder(invoice_id: str) -> qbo.Invoice:
    return qbo.Invoice(Id=invoice_id, CustomerRef=qbo.Ref(value=""), Line=[])


# ------------------------------------------------------------------------------------------ OneDesk
class DryRunOneDesk:
    """OneDeskPort: reads pass through; writes are listed as (operation, what would be written)."""

    def __init__(self, inner: OneDeskPort) -> None:
        self._inner = inner
        self.writes: list[tuple[str, object]] = []

    def get_account_profile(self) -> AccountProfile:
        return self._inner.get_account_profile()

    def list_invoices_modified_since(self, since: datetime) -> list[Invoice]:
        return self._inner.list_invoices_modified_since(since)

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self._inner.get_invoice(invoice_id)

    def set_qbo_reference(self, invoice_id: str, reference: QboReference) -> None:
        self.writes.append(("set_qbo_reference", reference))

    def add_tag(self, invoice_id: str, tag: Tag) -> None:
        self.writes.append(("add_tag", tag))

    def set_sync_message(self, invoice_id: str, message: SyncMessage) -> None:
        self.writes.append(("set_sync_message", message))

    def set_payment_state(self, invoice_id: str, state: PaymentState) -> None:
        self.writes.append(("set_payment_state", state))


# ------------------------------------------------------------------------------------------ store
type _Key = tuple[str, str, str]


class DryRunMappings:
    """MappingStore: reads see the stored mappings overlaid with this run's writes; nothing is stored."""

    def __init__(self, inner: MappingStore) -> None:
        self._inner = inner
        self._customers: dict[_Key, str] = {}
        self._items: dict[_Key, str] = {}
        self._links: dict[_Key, InvoiceLink] = {}
        self.writes: list[tuple[str, object]] = []

    def customer_id(self, tenant_id: str, realm_id: str, organization_id: str) -> str | None:
        key = (tenant_id, realm_id, organization_id)
        return self._customers.get(key) or self._inner.customer_id(*key)

    def link_customer(self, tenant_id: str, realm_id: str, organization_id: str, customer_id: str) -> None:
        self._customers[(tenant_id, realm_id, organization_id)] = customer_id
        self.writes.append(("link_customer", {organization_id: customer_id}))

    def item_ids(self, tenant_id: str, realm_id: str, names: Iterable[str]) -> dict[str, str]:
        wanted = list(names)
        mine = {
            n: self._items[(tenant_id, realm_id, n)]
            for n in wanted
            if (tenant_id, realm_id, n) in self._items
        }
        stored = self._inner.item_ids(tenant_id, realm_id, [n for n in wanted if n not in mine])
        return stored | mine

    def link_items(self, tenant_id: str, realm_id: str, item_ids: Mapping[str, str]) -> None:
        for name, qbo_id in item_ids.items():
            self._items[(tenant_id, realm_id, name)] = qbo_id
        if item_ids:
            self.writes.append(("link_items", dict(item_ids)))

    def invoice_link(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceLink | None:
        key = (tenant_id, realm_id, invoice_id)
        return self._links.get(key) or self._inner.invoice_link(*key)

    def begin_create(self, link: InvoiceLink, replaces: InvoiceLink | None) -> None:
        self._links[(link.tenant_id, link.realm_id, link.invoice_id)] = link
        self.writes.append(("begin_create", link))

    def save_link(self, link: InvoiceLink) -> None:
        self._links[(link.tenant_id, link.realm_id, link.invoice_id)] = link
        self.writes.append(("save_link", link))

    def link_for_qbo_invoice(self, realm_id: str, qbo_invoice_id: str) -> InvoiceLink | None:
        return self._inner.link_for_qbo_invoice(realm_id, qbo_invoice_id)

    def payment_invoices(self, tenant_id: str, realm_id: str, payment_id: str) -> set[str]:
        return self._inner.payment_invoices(tenant_id, realm_id, payment_id)

    def remember_payment_invoices(
        self, tenant_id: str, realm_id: str, payment_id: str, invoice_ids: set[str]
    ) -> None:
        self.writes.append(("remember_payment_invoices", {payment_id: sorted(invoice_ids)}))

    def remember_unpaid_status(self, link: InvoiceLink, status: InvoiceStatus) -> None:
        self.writes.append(("remember_unpaid_status", status))

    def take_expected_echo(self, link: InvoiceLink) -> bool:
        self.writes.append(("take_expected_echo", link.invoice_id))
        return False

    def mark_qbo_invoice_gone(self, link: InvoiceLink, gone: QboGone) -> None:
        self.writes.append(("mark_qbo_invoice_gone", gone))

    def save_conflict(self, conflict: InvoiceConflict) -> None:
        self.writes.append(("save_conflict", conflict))

    def conflict(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceConflict | None:
        return self._inner.conflict(tenant_id, realm_id, invoice_id)

    def conflicts(self, tenant_id: str, realm_id: str) -> list[InvoiceConflict]:
        return self._inner.conflicts(tenant_id, realm_id)

    def close_conflict(self, conflict: InvoiceConflict) -> None:
        self.writes.append(("close_conflict", conflict))


class RecordingAudit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)

    def recent(self, tenant_id: str, limit: int = 20) -> list[AuditRecord]:
        return [r for r in reversed(self.records) if r.tenant_id == tenant_id][:limit]

    def invoice_history(self, tenant_id: str, invoice_id: str) -> list[AuditRecord]:
        return [r for r in self.records if (r.tenant_id, r.invoice_id) == (tenant_id, invoice_id)]


class DryRunTaxCatalogs:
    """TaxCatalogStore: the stored snapshot is read; refreshed codes and combinations seen are listed."""

    def __init__(self, inner: TaxCatalogStore, writes: list[tuple[str, object]]) -> None:
        self._inner = inner
        self.writes = writes

    def get_tax_catalog(self, tenant_id: str, realm_id: str) -> TaxCatalog:
        return self._inner.get_tax_catalog(tenant_id, realm_id)

    def save_tax_codes(
        self, tenant_id: str, realm_id: str, codes: Sequence[CatalogCode], read_at: datetime
    ) -> None:
        self.writes.append(("save_tax_codes", list(codes)))

    def record_taxes_seen(self, tenant_id: str, realm_id: str, seen: SeenTaxes) -> None:
        self.writes.append(("record_taxes_seen", seen))


class RecordingDeliveries:
    def __init__(self) -> None:
        self.deliveries: list[DeliveryCommand] = []

    def enqueue(self, delivery: DeliveryCommand) -> None:
        self.deliveries.append(delivery)
