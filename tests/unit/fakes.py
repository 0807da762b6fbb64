"""In-memory fakes of the ports, for unit tests of the use cases (no AWS, no HTTP).

They model only what the use cases rely on: QBO's string Ids and SyncTokens, its duplicate-name and
stale-object faults, the mapping store's conditional ``begin_create``. Anything else raises
``NotImplementedError`` so a test never passes by accident on behaviour the fake does not have.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qbo_sync.domain.audit import AuditRecord
from qbo_sync.domain.commands import DeliveryCommand, InvoiceAction, InvoiceCommand, QboChange
from qbo_sync.domain.connection import Connection
from qbo_sync.domain.onedesk import (
    AccountProfile,
    Invoice,
    InvoiceStatus,
    PaymentState,
    QboReference,
    SyncMessage,
    Tag,
)
from qbo_sync.domain.qbo import (
    CompanyInfo,
    Customer,
    DeliveryInfo,
    EmailAddress,
    Entity,
    Item,
    MetaData,
    Preferences,
    Ref,
)
from qbo_sync.domain.qbo import Invoice as QboInvoice
from qbo_sync.domain.taxes import CatalogCode, SeenTaxes, TaxCatalog
from qbo_sync.domain.tenant import Tenant, TenantSettings
from qbo_sync.ports.onedesk import OneDeskNotFound
from qbo_sync.ports.qbo import (
    BatchOutcome,
    CdcChanges,
    Condition,
    QboDuplicateName,
    QboError,
    QboNotFound,
    QboResult,
    QboStaleObject,
    QboValidationError,
)
from qbo_sync.ports.store import InvoiceConflict, InvoiceLink, QboGone, StaleLink

DEFAULT_NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


# ---------------------------------------------------------------------------------------------- QBO


@dataclass
class _Failure:
    error: Exception
    performed: bool  # the call takes effect, then the error is raised (a lost response)


@dataclass(frozen=True)
class SparseUpdateCall:
    entity_id: str
    sync_token: str
    fields: Mapping[str, object]
    request_id: str


class FakeQbo:
    """QboPort for one realm, in memory. Ids come from one counter shared by all entity types."""

    def __init__(self, realm_id: str = "9130", clock: Callable[[], datetime] | None = None) -> None:
        self._realm_id = realm_id
        self._clock = clock or FixedClock()
        self._ids = itertools.count(1)
        self._rows: dict[str, dict[str, Entity]] = defaultdict(dict)
        self._failures: dict[str, list[_Failure]] = defaultdict(list)
        self._before: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self.calls: Counter[str] = Counter()
        self.create_request_ids: list[str] = []
        self.batch_request_ids: list[str] = []
        self.batches: list[list[Entity]] = []
        self.updates: list[SparseUpdateCall] = []
        self.emails: list[tuple[str, str, str]] = []  # (invoice id, send_to, request id)
        self.voided: set[str] = set()
        self.refused_names: dict[str, QboError] = {}  # creating a customer/item of that name fails so
        self.extra_total = Decimal("0.00")  # QBO computing an invoice's total differently (e.g. its tax)

    # -- test controls ----------------------------------------------------------------------
    @property
    def realm_id(self) -> str:
        return self._realm_id

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def reset_calls(self) -> None:
        self.calls.clear()

    def fail_next(self, method: str, error: Exception, *, performed: bool = False) -> None:
        """The next call of ``method`` raises ``error`` (after taking effect when ``performed``)."""
        self._failures[method].append(_Failure(error, performed))

    def before_next(self, method: str, action: Callable[[], None]) -> None:
        """Run ``action`` just before the next call of ``method`` (e.g. another worker's write)."""
        self._before[method].append(action)

    def add[E: Entity](self, entity: E) -> E:
        """Seed QBO directly (no call counted); returns the stored copy with its Id."""
        return self._insert(entity)

    def rows[E: Entity](self, entity: type[E]) -> list[E]:
        return [
            row.model_copy(deep=True)
            for row in self._rows[entity.__name__].values()
            if isinstance(row, entity)
        ]

    def get[E: Entity](self, entity: type[E], entity_id: str) -> E:
        row = self._rows[entity.__name__][entity_id]
        assert isinstance(row, entity)
        return row.model_copy(deep=True)

    def edit_in_qbo(self, entity: type[Entity], entity_id: str) -> None:
        """Something happened to the record in QBO that moves its SyncToken only (a payment, an email)."""
        row = self._rows[entity.__name__][entity_id]
        row.SyncToken = str(int(str(row.SyncToken)) + 1)

    def bookkeeper_edits(self, invoice_id: str, **fields: object) -> QboInvoice:
        """A bookkeeper changes the invoice's content in QBO (e.g. ``Line=[...]``): QBO recomputes it."""
        row = self._rows["Invoice"][invoice_id]
        assert isinstance(row, QboInvoice)
        changed = self._stored(QboInvoice.model_validate({**row.payload(), **fields}))
        changed.SyncToken = str(int(str(row.SyncToken)) + 1)
        self._rows["Invoice"][invoice_id] = changed
        return changed.model_copy(deep=True)

    def void_in_qbo(self, invoice_id: str) -> None:
        """QBO keeps a voided invoice, amounts zeroed and "Voided" before its private note."""
        row = self._rows["Invoice"][invoice_id]
        assert isinstance(row, QboInvoice)
        for line in row.Line:
            line.Amount = Decimal("0.00")
        row.TotalAmt = row.Balance = Decimal("0.00")
        row.PrivateNote = f"Voided - {row.PrivateNote or ''}"
        row.SyncToken = str(int(str(row.SyncToken)) + 1)
        self.voided.add(invoice_id)

    def delete(self, entity: type[Entity], entity_id: str) -> None:
        del self._rows[entity.__name__][entity_id]

    # -- QboPort ----------------------------------------------------------------------------
    def query[E: Entity](
        self, entity: type[E], where: Sequence[Condition] = (), *, include_inactive: bool = False
    ) -> QboResult[list[E]]:
        failure = self._enter("query")
        rows = [
            row.model_copy(deep=True)
            for row in self._rows[entity.__name__].values()
            if isinstance(row, entity)
            and (include_inactive or getattr(row, "Active", None) is not False)
            and all(_matches(row, condition) for condition in where)
        ]
        self._leave(failure)
        return QboResult(rows, intuit_tid=self._tid())

    def read[E: Entity](self, entity: type[E], entity_id: str) -> QboResult[E]:
        failure = self._enter("read")
        row = self._find(entity, entity_id)
        self._leave(failure)
        return QboResult(row.model_copy(deep=True), intuit_tid=self._tid())

    def create[E: Entity](self, entity: E, *, request_id: str) -> QboResult[E]:
        failure = self._enter("create")
        self.create_request_ids.append(request_id)
        stored = self._create_one(entity)
        self._leave(failure)
        return QboResult(stored, intuit_tid=self._tid(), request_id=request_id)

    def sparse_update[E: Entity](
        self,
        entity: type[E],
        entity_id: str,
        sync_token: str,
        fields: Mapping[str, object],
        *,
        request_id: str,
    ) -> QboResult[E]:
        failure = self._enter("sparse_update")
        self.updates.append(SparseUpdateCall(entity_id, sync_token, dict(fields), request_id))
        current = self._find(entity, entity_id)
        if current.SyncToken != sync_token:
            raise QboStaleObject(
                status=400, code="5010", message="Stale Object Error", detail=f"Entity={entity.__name__}"
            )
        if entity_id in self.voided:
            raise QboValidationError(
                status=400,
                code="6000",
                message="A business validation error has occurred while processing your request",
                detail="This transaction has been voided and can no longer be changed",
            )
        merged = {**current.payload(), **fields, "Id": entity_id, "SyncToken": str(int(sync_token) + 1)}
        updated = self._stored(entity.model_validate(merged))
        self._rows[entity.__name__][entity_id] = updated
        self._leave(failure)
        return QboResult(updated.model_copy(deep=True), intuit_tid=self._tid(), request_id=request_id)

    def batch_create(self, entities: Sequence[Entity], *, request_id: str) -> list[BatchOutcome]:
        assert 0 < len(entities) <= 30, "a QBO batch holds 1 to 30 items"
        failure = self._enter("batch_create")
        self.batch_request_ids.append(request_id)
        self.batches.append([e.model_copy(deep=True) for e in entities])
        outcomes: list[BatchOutcome] = []
        for entity in entities:
            try:
                outcomes.append(BatchOutcome(entity=self._create_one(entity), error=None))
            except QboError as error:
                outcomes.append(BatchOutcome(entity=None, error=error))
        self._leave(failure)
        return outcomes

    def send_invoice(self, invoice_id: str, send_to: str, *, request_id: str) -> QboResult[QboInvoice]:
        failure = self._enter("send_invoice")
        invoice = self._find(QboInvoice, invoice_id)
        self.emails.append((invoice_id, send_to, request_id))
        invoice.EmailStatus = "EmailSent"
        invoice.DeliveryInfo = DeliveryInfo(DeliveryType="Email", DeliveryTime=self._clock().isoformat())
        invoice.BillEmail = EmailAddress(Address=send_to)
        invoice.SyncToken = str(int(str(invoice.SyncToken)) + 1)
        self._leave(failure)
        return QboResult(invoice.model_copy(deep=True), intuit_tid=self._tid(), request_id=request_id)

    def void_invoice(self, invoice_id: str, sync_token: str, *, request_id: str) -> QboResult[QboInvoice]:
        raise NotImplementedError

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> QboResult[CdcChanges]:
        raise NotImplementedError

    def company_info(self) -> QboResult[CompanyInfo]:
        raise NotImplementedError

    def preferences(self) -> QboResult[Preferences]:
        raise NotImplementedError

    # -- internals --------------------------------------------------------------------------
    def _enter(self, method: str) -> _Failure | None:
        self.calls[method] += 1
        if self._before[method]:
            self._before[method].pop(0)()
        failure = self._failures[method].pop(0) if self._failures[method] else None
        if failure is not None and not failure.performed:
            raise failure.error
        return failure

    @staticmethod
    def _leave(failure: _Failure | None) -> None:
        if failure is not None:
            raise failure.error

    def _tid(self) -> str:
        return f"tid-{self.total_calls}"

    def _find[E: Entity](self, entity: type[E], entity_id: str) -> E:
        row = self._rows[entity.__name__].get(entity_id)
        if not isinstance(row, entity):
            raise QboNotFound(
                status=400,
                code="610",
                message="Object Not Found",
                detail="Another user has deleted this transaction.",
            )
        return row

    def _create_one[E: Entity](self, entity: E) -> E:
        name = _unique_name(entity)
        if name in self.refused_names:
            raise self.refused_names[name]
        if name is not None:
            for row in self._rows[type(entity).__name__].values():
                if (other := _unique_name(row)) is not None and other.casefold() == name.casefold():
                    raise QboDuplicateName(
                        status=400,
                        code="6240",
                        message="Duplicate Name Exists Error",
                        detail=f"The name supplied already exists. : {name}",
                    )
        return self._insert(entity)

    def _insert[E: Entity](self, entity: E) -> E:
        stored = self._stored(entity.model_copy(deep=True))
        stored.Id = str(next(self._ids))
        stored.SyncToken = "0"
        if isinstance(stored, QboInvoice) and stored.DocNumber is None:
            stored.DocNumber = str(1000 + int(stored.Id))
        self._rows[type(entity).__name__][stored.Id] = stored
        return stored.model_copy(deep=True)

    def _stored[E: Entity](self, entity: E) -> E:
        """What QBO keeps of a write: its time in MetaData, and an invoice's TotalAmt computed (sales lines
        less discounts; no tax engine here)."""
        entity.MetaData = MetaData(LastUpdatedTime=self._clock().isoformat())
        if isinstance(entity, QboInvoice) and entity.Line:
            sales = sum((x.Amount or Decimal(0) for x in entity.Line if x.SalesItemLineDetail), Decimal(0))
            discounts = sum((x.Amount or Decimal(0) for x in entity.Line if x.DiscountLineDetail), Decimal(0))
            entity.TotalAmt = sales - discounts + self.extra_total
        return entity


def _unique_name(entity: Entity) -> str | None:
    if isinstance(entity, Customer):
        return entity.DisplayName
    if isinstance(entity, Item):
        return entity.Name
    return None


def _matches(row: Entity, condition: Condition) -> bool:
    value: object = row
    for part in condition.field.split("."):
        value = getattr(value, part, None)
    if isinstance(value, Ref):
        value = value.value
    if condition.op == "=":
        return value == condition.values[0]
    if condition.op == "IN":
        return value in condition.values
    if condition.op == "LIKE":  # QBO's LIKE: % is the only wildcard, capitals are ignored
        pattern = ".*".join(re.escape(part) for part in str(condition.values[0]).split("%"))
        return re.fullmatch(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    raise NotImplementedError(f"FakeQbo does not evaluate {condition.op}")


# ---------------------------------------------------------------------------------------------- OneDesk


class FakeOneDesk:
    """OneDeskPort: ``listing`` is what the modified-since endpoint returns (filtered by ``since``)."""

    def __init__(self, *invoices: Invoice) -> None:
        self.invoices: dict[str, Invoice] = {i.id: i for i in invoices}
        self.listing: list[Invoice] = list(invoices)
        self.since_calls: list[datetime] = []
        self.references: dict[str, QboReference] = {}
        self.messages: dict[str, list[SyncMessage]] = defaultdict(list)
        self.tags: dict[str, list[Tag]] = defaultdict(list)
        self.payment_states: dict[str, PaymentState] = {}
        self.writes = 0
        self.profile: AccountProfile | None = None
        self.fail_next_write: Exception | None = None

    def last_message(self, invoice_id: str) -> SyncMessage:
        return self.messages[invoice_id][-1]

    def get_account_profile(self) -> AccountProfile:
        if self.profile is None:
            raise NotImplementedError
        return self.profile

    def list_invoices_modified_since(self, since: datetime) -> list[Invoice]:
        self.since_calls.append(since)
        return [invoice for invoice in self.listing if invoice.modified_at >= since]

    def get_invoice(self, invoice_id: str) -> Invoice:
        if invoice_id not in self.invoices:
            raise OneDeskNotFound(f"no invoice {invoice_id}")
        return self.invoices[invoice_id]

    def set_qbo_reference(self, invoice_id: str, reference: QboReference) -> None:
        self._write()
        self.references[invoice_id] = reference

    def add_tag(self, invoice_id: str, tag: Tag) -> None:
        self._write()
        self.tags[invoice_id] = [t for t in self.tags[invoice_id] if t.name != tag.name] + [tag]

    def set_sync_message(self, invoice_id: str, message: SyncMessage) -> None:
        self._write()
        self.messages[invoice_id].append(message)

    def set_payment_state(self, invoice_id: str, state: PaymentState) -> None:
        self._write()
        self.payment_states[invoice_id] = state

    def _write(self) -> None:
        self.writes += 1
        if self.fail_next_write is not None:
            failure, self.fail_next_write = self.fail_next_write, None
            raise failure


# ---------------------------------------------------------------------------------------------- stores

type _LinkKey = tuple[str, str, str]


class FakeMappingStore:
    """MappingStore with DynamoMappingStore's conditions on ``begin_create``."""

    def __init__(self) -> None:
        self.customers: dict[_LinkKey, str] = {}
        self.items: dict[_LinkKey, str] = {}
        self.links: dict[_LinkKey, InvoiceLink] = {}
        self.begun: list[InvoiceLink] = []
        self.payments: dict[_LinkKey, set[str]] = {}
        self.conflict_records: dict[_LinkKey, InvoiceConflict] = {}
        self.saves = 0
        self.crash_on_next_save: Exception | None = None

    def customer_id(self, tenant_id: str, realm_id: str, organization_id: str) -> str | None:
        return self.customers.get((tenant_id, realm_id, organization_id))

    def link_customer(self, tenant_id: str, realm_id: str, organization_id: str, customer_id: str) -> None:
        self.customers[(tenant_id, realm_id, organization_id)] = customer_id

    def item_ids(self, tenant_id: str, realm_id: str, names: Iterable[str]) -> dict[str, str]:
        return {
            n: self.items[(tenant_id, realm_id, n)] for n in names if (tenant_id, realm_id, n) in self.items
        }

    def link_items(self, tenant_id: str, realm_id: str, item_ids: Mapping[str, str]) -> None:
        for name, qbo_id in item_ids.items():
            self.items[(tenant_id, realm_id, name)] = qbo_id

    def invoice_link(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceLink | None:
        return self.links.get((tenant_id, realm_id, invoice_id))

    def begin_create(self, link: InvoiceLink, replaces: InvoiceLink | None) -> None:
        key = (link.tenant_id, link.realm_id, link.invoice_id)
        current = self.links.get(key)
        if replaces is None:
            if current is not None:
                raise StaleLink(f"invoice {link.invoice_id} already has a link")
        elif current is None or (current.generation, current.state) != (replaces.generation, replaces.state):
            raise StaleLink(f"invoice {link.invoice_id} link changed concurrently")
        self.begun.append(link)
        self.links[key] = link

    def save_link(self, link: InvoiceLink) -> None:
        self.saves += 1
        if self.crash_on_next_save is not None:
            crash, self.crash_on_next_save = self.crash_on_next_save, None
            raise crash
        self.links[(link.tenant_id, link.realm_id, link.invoice_id)] = link

    def link_for_qbo_invoice(self, realm_id: str, qbo_invoice_id: str) -> InvoiceLink | None:
        return next(
            (x for x in self.links.values() if (x.realm_id, x.qbo_invoice_id) == (realm_id, qbo_invoice_id)),
            None,
        )

    def payment_invoices(self, tenant_id: str, realm_id: str, payment_id: str) -> set[str]:
        return set(self.payments.get((tenant_id, realm_id, payment_id), set()))

    def remember_payment_invoices(
        self, tenant_id: str, realm_id: str, payment_id: str, invoice_ids: set[str]
    ) -> None:
        self.payments.setdefault((tenant_id, realm_id, payment_id), set()).update(invoice_ids)

    def remember_unpaid_status(self, link: InvoiceLink, status: InvoiceStatus) -> None:
        key = (link.tenant_id, link.realm_id, link.invoice_id)
        self.links[key] = self.links[key].model_copy(update={"unpaid_status": status})

    def take_expected_echo(self, link: InvoiceLink) -> bool:
        key = (link.tenant_id, link.realm_id, link.invoice_id)
        current = self.links.get(key)
        if current is None or current.echo_expected_at is None:
            return False
        if current.echo_expected_at != link.echo_expected_at:
            return False
        self.links[key] = current.model_copy(update={"echo_expected_at": None})
        return True

    def mark_qbo_invoice_gone(self, link: InvoiceLink, gone: QboGone) -> None:
        key = (link.tenant_id, link.realm_id, link.invoice_id)
        current = self.links.get(key)
        if current is not None and current.qbo_invoice_id == link.qbo_invoice_id:
            self.links[key] = current.model_copy(update={"qbo_gone": gone, "reported_hash": None})

    def save_conflict(self, conflict: InvoiceConflict) -> None:
        self.conflict_records[(conflict.tenant_id, conflict.realm_id, conflict.invoice_id)] = conflict

    def conflict(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceConflict | None:
        return self.conflict_records.get((tenant_id, realm_id, invoice_id))

    def conflicts(self, tenant_id: str, realm_id: str) -> list[InvoiceConflict]:
        return [c for (t, r, _), c in self.conflict_records.items() if (t, r) == (tenant_id, realm_id)]

    def close_conflict(self, conflict: InvoiceConflict) -> None:
        self.conflict_records.pop((conflict.tenant_id, conflict.realm_id, conflict.invoice_id), None)


class FakeAuditLog:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)

    def recent(self, tenant_id: str, limit: int = 20) -> list[AuditRecord]:
        return [r for r in reversed(self.records) if r.tenant_id == tenant_id][:limit]

    def invoice_history(self, tenant_id: str, invoice_id: str) -> list[AuditRecord]:
        return [r for r in self.records if r.tenant_id == tenant_id and r.invoice_id == invoice_id]

    def outcomes(self) -> list[tuple[str, str]]:
        """(action, outcome) in the order recorded."""
        return [(r.action, r.outcome.value) for r in self.records]


class FakeTenantStore:
    def __init__(self, *tenants: Tenant) -> None:
        self.tenants: dict[str, Tenant] = {t.tenant_id: t for t in tenants}
        self.settings: dict[tuple[str, str], TenantSettings] = {}
        self.watermarks: dict[tuple[str, str], datetime] = {}
        self.catalogs: dict[tuple[str, str], TaxCatalog] = {}
        self.catalog_writes = 0

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def save_tenant(self, tenant: Tenant) -> None:
        self.tenants[tenant.tenant_id] = tenant

    def list_tenants(self) -> list[Tenant]:
        return list(self.tenants.values())

    def get_settings(self, tenant_id: str, realm_id: str) -> TenantSettings | None:
        return self.settings.get((tenant_id, realm_id))

    def save_settings(self, tenant_id: str, settings: TenantSettings) -> None:
        self.settings[(tenant_id, settings.realm_id)] = settings

    def get_tax_catalog(self, tenant_id: str, realm_id: str) -> TaxCatalog:
        return self.catalogs.get((tenant_id, realm_id), TaxCatalog())

    def save_tax_codes(
        self, tenant_id: str, realm_id: str, codes: Sequence[CatalogCode], read_at: datetime
    ) -> None:
        self.catalog_writes += 1
        current = self.get_tax_catalog(tenant_id, realm_id)
        self.catalogs[(tenant_id, realm_id)] = current.model_copy(
            update={"codes": tuple(codes), "read_at": read_at}
        )

    def record_taxes_seen(self, tenant_id: str, realm_id: str, seen: SeenTaxes) -> None:
        self.catalog_writes += 1
        current = self.get_tax_catalog(tenant_id, realm_id)
        if not current.has_seen(seen.combination):
            self.catalogs[(tenant_id, realm_id)] = current.model_copy(update={"seen": (*current.seen, seen)})

    def get_watermark(self, tenant_id: str, name: str) -> datetime | None:
        return self.watermarks.get((tenant_id, name))

    def set_watermark(self, tenant_id: str, name: str, at: datetime) -> None:
        self.watermarks[(tenant_id, name)] = at


class FakeParkedWork:
    """One parked command per invoice and action, like DynamoParkedWork."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], tuple[InvoiceCommand, str]] = {}

    def park(self, command: InvoiceCommand, reason: str) -> None:
        self.entries[(command.tenant_id, command.invoice_id, command.action.value)] = (command, reason)

    def parked(self, tenant_id: str) -> list[InvoiceCommand]:
        return [c for (tenant, _, _), (c, _) in self.entries.items() if tenant == tenant_id]

    def count_parked(self, tenant_id: str) -> int:
        return len(self.parked(tenant_id))

    def parked_command(self, tenant_id: str, invoice_id: str, action: InvoiceAction) -> InvoiceCommand | None:
        entry = self.entries.get((tenant_id, invoice_id, action.value))
        return entry[0] if entry else None

    def unpark(self, command: InvoiceCommand) -> None:
        self.entries.pop((command.tenant_id, command.invoice_id, command.action.value), None)

    def reasons(self) -> list[str]:
        return [reason for _, reason in self.entries.values()]


class FakeConnectionStore:
    """Only the part of ConnectionStore the invoice and payment use cases call."""

    def __init__(self, *connections: Connection) -> None:
        self.connections: dict[str, Connection] = {c.tenant_id: c for c in connections}
        self.syncs: list[tuple[str, datetime]] = []
        self.reconnect_reasons: list[tuple[str, str]] = []
        self.realm_lookups: list[str] = []

    def get(self, tenant_id: str) -> Connection | None:
        return self.connections.get(tenant_id)

    def tenant_for_realm(self, realm_id: str) -> str | None:
        self.realm_lookups.append(realm_id)
        return next((c.tenant_id for c in self.connections.values() if c.realm_id == realm_id), None)

    def tenants_for_realms(self, realm_ids: Iterable[str]) -> dict[str, str]:
        found = {realm: self.tenant_for_realm(realm) for realm in set(realm_ids)}
        return {realm: tenant for realm, tenant in found.items() if tenant is not None}

    def mark_needs_reconnect(self, tenant_id: str, reason: str) -> None:
        self.reconnect_reasons.append((tenant_id, reason))

    def record_sync(self, tenant_id: str, at: datetime) -> None:
        self.syncs.append((tenant_id, at))


@dataclass
class FakeDeliveryQueue:
    deliveries: list[DeliveryCommand] = field(default_factory=list)

    def enqueue(self, delivery: DeliveryCommand) -> None:
        self.deliveries.append(delivery)


@dataclass
class FakeCommandQueue:
    commands: list[InvoiceCommand] = field(default_factory=list)

    def enqueue(self, command: InvoiceCommand) -> None:
        self.commands.append(command)

    def enqueue_many(self, commands: Sequence[InvoiceCommand]) -> None:
        assert len(commands) <= 10, "SQS batches hold at most ten messages"
        self.commands.extend(commands)


@dataclass
class FakeChangeQueue:
    batches: list[list[QboChange]] = field(default_factory=list)

    def enqueue_many(self, changes: Sequence[QboChange]) -> None:
        self.batches.append(list(changes))

    @property
    def changes(self) -> list[QboChange]:
        return [change for batch in self.batches for change in batch]


class FakeRequestLog:
    """RequestLog like DynamoRequestLog: a claim holds until its expiry, an expired one counts as absent."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], datetime] = {}

    def claim(self, tenant_id: str, request_id: str, now: datetime, until: datetime) -> bool:
        held = self.claims.get((tenant_id, request_id))
        if held is not None and held >= now:
            return False
        self.claims[(tenant_id, request_id)] = until
        return True

    def release(self, tenant_id: str, request_id: str) -> None:
        self.claims.pop((tenant_id, request_id), None)
