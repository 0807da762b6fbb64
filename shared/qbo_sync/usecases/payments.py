"""QBO payments flow back to OneDesk (P18, P20): webhooks and CDC become ``QboChange`` messages, and each
change rewrites the absolute payment state of the mapped OneDesk invoices it touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import ChangedEntity, QboChange
from qbo_sync.domain.connection import Connection
from qbo_sync.domain.invoice_state import echoes_our_write
from qbo_sync.domain.onedesk import SENT_VIA_QBO_TAG, Invoice, InvoiceStatus, SyncMessage
from qbo_sync.domain.payments import (
    carries_payment_news,
    invoice_ids,
    is_voided,
    payment_ids,
    payment_state,
)
from qbo_sync.domain.tenant import Tenant
from qbo_sync.domain.webhooks import parse_notifications
from qbo_sync.ports.onedesk import OneDeskNotFound, OneDeskPort
from qbo_sync.ports.qbo import QboNotFound, QboPort
from qbo_sync.ports.queues import ChangeQueue
from qbo_sync.ports.store import AuditLog, InvoiceLink, MappingStore, QboGone, TenantStore
from qbo_sync.ports.tokens import ConnectionStore


# ------------------------------------------------------------------------------------------ webhook
@dataclass(frozen=True)
class WebhookResult:
    queued: int
    no_payment_news: int  # invoice created or emailed: acknowledged, never queued
    unknown_realm: int


def accept_webhook(raw_body: bytes, connections: ConnectionStore, queue: ChangeQueue) -> WebhookResult:
    """Queue each distinct change that can move a paid amount, for the realms of our tenants, in one go:
    one lookup per distinct realm and ten changes per SQS call, so a batch of thousands of events is
    acknowledged within Intuit's 3 s. Unknown realms are acknowledged and counted, not failed: a non-200
    would make Intuit retry the whole batch for days."""
    changes = parse_notifications(raw_body)
    news = [change for change in changes if carries_payment_news(change)]
    tenants = connections.tenants_for_realms({change.realm_id for change in news})
    queued = [change for change in news if change.realm_id in tenants]
    queue.enqueue_many(queued)
    return WebhookResult(len(queued), len(changes) - len(news), len(news) - len(queued))


# ------------------------------------------------------------------------------------------ reconcile
CDC_ENTITIES: tuple[ChangedEntity, ...] = ("Invoice", "Payment", "CreditMemo")
CDC_OVERLAP = timedelta(minutes=10)
CDC_MAX_LOOKBACK = timedelta(days=29)  # QBO's CDC answers at most 30 days back
CDC_WATERMARK = "qbo-cdc"


@dataclass(frozen=True)
class ReconcileResult:
    realm_id: str
    changes: int
    watermark: datetime


def reconcile_realm(
    connection: Connection,
    client: QboPort,
    tenants: TenantStore,
    queue: ChangeQueue,
    clock: Callable[[], datetime],
) -> ReconcileResult:
    """CDC since the watermark (with overlap), queued like webhook events: alone it brings every mapped
    invoice right when webhooks are lost. Calling QBO also keeps a quiet realm's tokens refreshed, so its
    refresh token never ages out."""
    now = clock()
    watermark = tenants.get_watermark(connection.tenant_id, CDC_WATERMARK)
    since = max((watermark or now) - CDC_OVERLAP, now - CDC_MAX_LOOKBACK)
    cdc = client.cdc(CDC_ENTITIES, since).entity
    groups: Iterable[
        tuple[ChangedEntity, list[qbo.Invoice | qbo.Payment | qbo.CreditMemo | qbo.DeletedStub]]
    ] = (
        ("Invoice", list(cdc.invoices)),
        ("Payment", list(cdc.payments)),
        ("CreditMemo", list(cdc.credit_memos)),
    )
    changes = [
        QboChange(
            realm_id=connection.realm_id,
            entity=entity_name,
            entity_id=obj.Id,
            operation="deleted" if isinstance(obj, qbo.DeletedStub) else "updated",
            event_id=f"cdc:{entity_name}:{obj.Id}:{_last_updated(obj)}",
            occurred_at=_updated_at(obj),
        )
        for entity_name, objects in groups
        for obj in objects
        if obj.Id  # an object without an Id names nothing to look up
    ]
    news = [change for change in changes if carries_payment_news(change)]
    queue.enqueue_many(news)
    new_watermark = datetime.fromisoformat(cdc.time) if cdc.time else now
    tenants.set_watermark(connection.tenant_id, CDC_WATERMARK, new_watermark)
    return ReconcileResult(connection.realm_id, len(news), new_watermark)


def _updated_at(obj: qbo.QboModel) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if (stamp := _last_updated(obj)) else None
    except ValueError:
        return None


def _last_updated(obj: qbo.QboModel) -> str:
    meta = getattr(obj, "MetaData", None)
    if isinstance(meta, qbo.MetaData) and meta.LastUpdatedTime:
        return meta.LastUpdatedTime
    if isinstance(meta, dict):
        return str(meta.get("LastUpdatedTime", ""))
    return ""


# ------------------------------------------------------------------------------------------ apply
@dataclass(frozen=True)
class ChangePorts:
    connections: ConnectionStore
    tenants: TenantStore
    mappings: MappingStore
    audit: AuditLog
    onedesk_for: Callable[[Tenant], OneDeskPort]
    qbo_for: Callable[[str, str], QboPort]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class ApplyResult:
    invoices_updated: int
    ignored: str | None = None


def apply_qbo_change(change: QboChange, ports: ChangePorts) -> ApplyResult:
    if not carries_payment_news(change):  # queued before the receiver dropped these itself
        return ApplyResult(0, f"invoice {change.operation}: no payment to reflect")
    tenant_id = ports.connections.tenant_for_realm(change.realm_id)
    tenant = ports.tenants.get_tenant(tenant_id) if tenant_id else None
    if tenant is None:
        return ApplyResult(0, f"realm {change.realm_id} belongs to no tenant")
    applier = _ChangeApplier(tenant, change.realm_id, ports)
    if change.entity == "Payment":
        affected = applier.invoices_of_payment(change.entity_id)
    elif change.entity == "CreditMemo":
        affected = applier.invoices_of_credit_memo(change.entity_id)
    else:
        affected = {change.entity_id}
        if change.operation == "updated" and applier.is_our_echo(change.entity_id, change.occurred_at):
            return ApplyResult(0, "our own write to the invoice, announced back by QBO")
    updated = sum(applier.refresh(invoice_id) for invoice_id in sorted(affected))
    return ApplyResult(updated)


class _ChangeApplier:
    def __init__(self, tenant: Tenant, realm_id: str, ports: ChangePorts) -> None:
        self.tenant, self.realm, self.ports = tenant, realm_id, ports
        self.qbo = ports.qbo_for(tenant.tenant_id, realm_id)
        self.onedesk = ports.onedesk_for(tenant)
        # Read once per change: a payment's own event reads it for its invoices and again for their dates.
        self._payments: dict[str, qbo.Payment | None] = {}
        self._payment_invoices: dict[str, set[str]] = {}  # what the store is known to hold per payment

    def is_our_echo(self, qbo_invoice_id: str, occurred_at: datetime | None) -> bool:
        """The first event stamped at our last update's time is QBO announcing that update: taken once,
        so a repeat or a bookkeeper's edit within the same second is still read."""
        link = self.ports.mappings.link_for_qbo_invoice(self.realm, qbo_invoice_id)
        if link is None or not echoes_our_write(occurred_at, link.echo_expected_at):
            return False
        return self.ports.mappings.take_expected_echo(link)

    def payment(self, payment_id: str) -> qbo.Payment | None:
        if payment_id not in self._payments:
            try:
                self._payments[payment_id] = self.qbo.read(qbo.Payment, payment_id).entity
            except QboNotFound:
                self._payments[payment_id] = None
        return self._payments[payment_id]

    def invoices_of_payment(self, payment_id: str) -> set[str]:
        """Invoices the payment is applied to now, plus those it was applied to before (our record):
        an edit that moves or removes an application, a delete or a void must fix those too."""
        mappings, tenant_id = self.ports.mappings, self.tenant.tenant_id
        before = mappings.payment_invoices(tenant_id, self.realm, payment_id)
        payment = self.payment(payment_id)
        now = invoice_ids(payment) if payment is not None else set()
        if now - before:
            mappings.remember_payment_invoices(tenant_id, self.realm, payment_id, now - before)
        self._payment_invoices[payment_id] = before | now
        return before | now

    def invoices_of_credit_memo(self, credit_memo_id: str) -> set[str]:
        """A credit memo reaches an invoice through the payment that applies it."""
        try:
            memo = self.qbo.read(qbo.CreditMemo, credit_memo_id).entity
        except QboNotFound:
            return set()
        affected: set[str] = set()
        for link in memo.LinkedTxn or []:
            if link.TxnType == "Payment":
                affected |= self.invoices_of_payment(link.TxnId)
        return affected

    def refresh(self, qbo_invoice_id: str) -> bool:
        """Write the absolute payment state of one mapped invoice to OneDesk; True when written."""
        link = self.ports.mappings.link_for_qbo_invoice(self.realm, qbo_invoice_id)
        if link is None or link.tenant_id != self.tenant.tenant_id:
            return False  # not one of ours (created in QBO directly, or copied by another tool)
        try:
            return self._refresh(link, qbo_invoice_id)
        except OneDeskNotFound as gone:
            # Deleted in OneDesk: final (nothing to write on, nothing to retry), the other invoices go on.
            self._audit(link, Outcome.WARNING, f"{_GONE_FROM_ONEDESK} ({gone})")
            return False

    def _refresh(self, link: InvoiceLink, qbo_invoice_id: str) -> bool:
        try:
            invoice = self.qbo.read(qbo.Invoice, qbo_invoice_id).entity
        except QboNotFound:
            # Deleting in QBO never deletes in OneDesk (P17); say so once per event, and have the next
            # copy create a new QBO invoice without first trying to update the deleted one.
            self.ports.mappings.mark_qbo_invoice_gone(link, QboGone.DELETED)
            self._tell(link, _DELETED)
            return False
        if is_voided(invoice):
            self.ports.mappings.mark_qbo_invoice_gone(link, QboGone.VOIDED)
            self._tell(link, _VOIDED)
            return False
        # Whichever event arrives first, remember every payment applied now, so a later edit, delete or
        # void of it finds this invoice even if that payment's own event is late or lost.
        for payment_id in payment_ids(invoice):
            if qbo_invoice_id not in self._payment_invoices.get(payment_id, set()):
                self.ports.mappings.remember_payment_invoices(
                    self.tenant.tenant_id, self.realm, payment_id, {qbo_invoice_id}
                )
        onedesk_invoice = self.onedesk.get_invoice(link.invoice_id)
        state = payment_state(
            invoice, self._unpaid_status(link, onedesk_invoice), self._last_payment_date(invoice)
        )
        current = (onedesk_invoice.amount_paid, onedesk_invoice.balance, onedesk_invoice.status)
        if current == (state.amount_paid, state.balance, state.status) and (
            onedesk_invoice.last_payment_date == state.last_payment_date
        ):
            return False  # already right: no write, no modification echo
        self.onedesk.set_payment_state(link.invoice_id, state)
        reason = f"paid {state.amount_paid}, balance {state.balance} ({state.status.value})"
        self._audit(link, Outcome.DONE, reason, qbo_invoice_id)
        return True

    def _unpaid_status(self, link: InvoiceLink, onedesk_invoice: Invoice) -> InvoiceStatus:
        """Open or Sent: what OneDesk showed before payments; remembered, since a (Partially) Paid
        invoice no longer shows it."""
        if onedesk_invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.SENT):
            if link.unpaid_status is not onedesk_invoice.status:
                self.ports.mappings.remember_unpaid_status(link, onedesk_invoice.status)
            return onedesk_invoice.status
        if link.unpaid_status is not None:
            return link.unpaid_status
        sent_via_qbo = any(tag.name == SENT_VIA_QBO_TAG for tag in onedesk_invoice.tags)
        return InvoiceStatus.SENT if sent_via_qbo else InvoiceStatus.OPEN

    def _last_payment_date(self, invoice: qbo.Invoice) -> date | None:
        dates = []
        for payment_id in payment_ids(invoice):
            payment = self.payment(payment_id)
            if payment is not None and payment.TxnDate is not None:
                dates.append(payment.TxnDate)
        return max(dates, default=None)

    def _tell(self, link: InvoiceLink, text: str) -> None:
        self.onedesk.set_sync_message(
            link.invoice_id, SyncMessage(level="warning", text=text, at=self.ports.clock())
        )
        self._audit(link, Outcome.WARNING, text)

    def _audit(
        self, link: InvoiceLink, outcome: Outcome, reason: str, qbo_invoice_id: str | None = None
    ) -> None:
        self.ports.audit.record(
            AuditRecord(
                tenant_id=self.tenant.tenant_id,
                at=self.ports.clock(),
                action="payment-sync",
                outcome=outcome,
                invoice_id=link.invoice_id,
                invoice_number=link.invoice_number,
                realm_id=self.realm,
                qbo_invoice_id=qbo_invoice_id,
                reason=reason,
            )
        )


_DELETED = (
    "This invoice was deleted in QuickBooks Online. OneDesk keeps it as it is (deletions are not copied); "
    "copy it again to recreate it in QuickBooks Online."
)
_GONE_FROM_ONEDESK = (
    "This invoice no longer exists in OneDesk (deleted there), so its payment state from QuickBooks Online "
    "was not written"
)
_VOIDED = (
    "This invoice was voided in QuickBooks Online. OneDesk keeps its amounts; void it in OneDesk too if "
    "that is intended, or copy it again to create a new invoice in QuickBooks Online (the voided one stays "
    "there)."
)
