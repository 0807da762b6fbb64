"""Have QBO email an invoice that is already up to date in QBO, at most once per send request (P9).

The caller runs this under Powertools idempotency keyed on (tenant, invoice, request id). That alone
cannot know what happened when an earlier attempt died after QBO accepted the send, so a redelivered
request first reads the QBO invoice: a delivery at or after the request's time means it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import DeliveryCommand, InvoiceAction, InvoiceCommand
from qbo_sync.domain.onedesk import SENT_VIA_QBO_TAG, SyncMessage, Tag
from qbo_sync.domain.request_ids import request_id
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskNotFound, OneDeskPort
from qbo_sync.ports.qbo import QboNotFound, QboPort, QboValidationError
from qbo_sync.ports.store import AuditLog, ParkedWork, TenantStore
from qbo_sync.ports.tokens import ConnectionStore, NeedsReconnect
from qbo_sync.usecases.invoice_commands import UnknownTenant

# QBO's clock and ours differ a little; a delivery this close before the request still counts as it.
# (So does a send finished this close to it: two "Send" clicks seconds apart email the customer once.)
CLOCK_TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True)
class SendPorts:
    onedesk: OneDeskPort
    qbo: QboPort
    audit: AuditLog
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    reason: str | None = None
    intuit_tid: str | None = None


def send_invoice(delivery: DeliveryCommand, ports: SendPorts, *, outcome_unknown: bool) -> SendResult:
    if outcome_unknown and (sent_at := _already_delivered(delivery, ports.qbo)) is not None:
        # An earlier attempt got the email out but died before telling OneDesk: tell it now.
        note = _tell_onedesk(lambda: _report_sent(delivery, ports, sent_at))
        reason = f"QBO had already emailed it at {sent_at.isoformat()}"
        _record(delivery, ports, Outcome.UNCHANGED, _with(reason, note))
        return SendResult(Outcome.UNCHANGED, "already sent")
    try:
        result = ports.qbo.send_invoice(
            delivery.qbo_invoice_id,
            delivery.send_to,
            request_id=request_id(delivery.tenant_id, delivery.invoice_id, "send", delivery.request_id),
        )
    except (QboValidationError, QboNotFound) as refused:
        # Permanent for this request (bad address, QBO's daily email limit, invoice deleted in QBO).
        reason = f"Not sent by QuickBooks Online: {refused.detail or refused.message}"
        note = _tell_onedesk(
            lambda: ports.onedesk.set_sync_message(
                delivery.invoice_id, SyncMessage(level="error", text=reason, at=ports.clock())
            )
        )
        _record(delivery, ports, Outcome.REFUSED, _with(reason, note), refused.intuit_tid)
        return SendResult(Outcome.REFUSED, reason, refused.intuit_tid)
    note = _tell_onedesk(lambda: _report_sent(delivery, ports, ports.clock()))
    _record(delivery, ports, Outcome.DONE, _with(f"emailed to {delivery.send_to}", note), result.intuit_tid)
    return SendResult(Outcome.DONE, intuit_tid=result.intuit_tid)


def _tell_onedesk(write: Callable[[], None]) -> str | None:
    """Write QBO's verdict back to OneDesk. QBO has already decided (the email is out, or refused), so
    an invoice deleted in OneDesk or a refused API key cannot change the outcome: it is recorded with
    it rather than retried. Returns what could not be told, for the audit record."""
    try:
        write()
    except (OneDeskNotFound, OneDeskAuthError) as error:
        return f"OneDesk could not be told ({error})"
    return None


def _with(reason: str, note: str | None) -> str:
    return f"{reason}; {note}" if note else reason


def _report_sent(delivery: DeliveryCommand, ports: SendPorts, sent_at: datetime) -> None:
    """The "Sent via QBO" tag and message (P9); both writes are absolute, so repeating them is safe."""
    ports.onedesk.add_tag(
        delivery.invoice_id, Tag(name=SENT_VIA_QBO_TAG, at=sent_at, detail=delivery.send_to)
    )
    ports.onedesk.set_sync_message(
        delivery.invoice_id,
        SyncMessage(level="info", text=f"Sent by QuickBooks Online to {delivery.send_to}.", at=ports.clock()),
    )


def _already_delivered(delivery: DeliveryCommand, client: QboPort) -> datetime | None:
    invoice = client.read(qbo.Invoice, delivery.qbo_invoice_id).entity
    info = invoice.DeliveryInfo
    if invoice.EmailStatus != "EmailSent" or info is None or not info.DeliveryTime:
        return None
    sent_at = datetime.fromisoformat(info.DeliveryTime)
    return sent_at if sent_at >= delivery.requested_at - CLOCK_TOLERANCE else None


def _record(
    delivery: DeliveryCommand, ports: SendPorts, outcome: Outcome, reason: str, intuit_tid: str | None = None
) -> None:
    ports.audit.record(
        AuditRecord(
            tenant_id=delivery.tenant_id,
            at=ports.clock(),
            action="send",
            outcome=outcome,
            invoice_id=delivery.invoice_id,
            invoice_number=delivery.invoice_number,
            realm_id=delivery.realm_id,
            qbo_invoice_id=delivery.qbo_invoice_id,
            reason=reason,
            intuit_tid=intuit_tid,
            request_id=delivery.request_id,
        )
    )


class Parked(Exception):
    """The delivery waits for a reconnect; raised so the idempotency record is not kept as done."""


@dataclass(frozen=True)
class DeliveryPorts:
    tenants: TenantStore
    connections: ConnectionStore
    parked: ParkedWork
    audit: AuditLog
    onedesk_for: Callable[[Tenant], OneDeskPort]
    qbo_for: Callable[[str, str], QboPort]
    clock: Callable[[], datetime]


def handle_delivery(delivery: DeliveryCommand, ports: DeliveryPorts, *, outcome_unknown: bool) -> SendResult:
    tenant = ports.tenants.get_tenant(delivery.tenant_id)
    if tenant is None:
        raise UnknownTenant(f"no tenant {delivery.tenant_id!r}")
    send_ports = SendPorts(
        onedesk=ports.onedesk_for(tenant),
        qbo=ports.qbo_for(tenant.tenant_id, delivery.realm_id),
        audit=ports.audit,
        clock=ports.clock,
    )
    connection = ports.connections.get(tenant.tenant_id)
    if connection is not None and connection.realm_id != delivery.realm_id:
        # The admin switched QBO companies after this send was queued: the invoice it names lives in the
        # other company, which the integration can no longer reach. Final; a new "Send" copies anew.
        reason = (
            "Not sent: QuickBooks Online was switched to another company after this send was requested. "
            "Send the invoice again to copy it to the new company and email it from there."
        )
        note = _tell_onedesk(
            lambda: send_ports.onedesk.set_sync_message(
                delivery.invoice_id, SyncMessage(level="error", text=reason, at=ports.clock())
            )
        )
        _record(delivery, send_ports, Outcome.REFUSED, _with(reason, note))
        return SendResult(Outcome.REFUSED, reason)
    try:
        return send_invoice(delivery, send_ports, outcome_unknown=outcome_unknown)
    except NeedsReconnect as needs:
        # Park the whole send: when the admin reconnects it copies (unchanged) and delivers again.
        command = InvoiceCommand(
            tenant_id=delivery.tenant_id,
            invoice_id=delivery.invoice_id,
            action=InvoiceAction.SEND,
            request_id=delivery.request_id,
            requested_at=delivery.requested_at,
            source="parked",
        )
        ports.parked.park(command, f"QuickBooks Online needs to be reconnected ({needs.reason})")
        _record(delivery, send_ports, Outcome.PARKED, f"waiting for a reconnect ({needs.reason})")
        raise Parked(needs.reason) from needs
