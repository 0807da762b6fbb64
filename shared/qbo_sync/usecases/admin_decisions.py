"""What the admin decides on the settings page about single invoices (forms protected by the session and
its CSRF token, like every other form there):

- a conflict (the invoice was edited in QBO since our last write): **overwrite** QBO's version from
  OneDesk (the invoice is copied again as OneDesk shows it now), or **keep** QBO's version. Keep makes QBO's
  edited version the one we last wrote for this OneDesk content, so the same OneDesk content never raises
  the conflict again; a later change of the invoice in OneDesk is copied over it as usual (OneDesk is where
  invoices are written; the newest state wins), and a new edit in QBO raises a new conflict.
- a send that waited (parked while QBO was not connected, or marked Sent meanwhile): **send** it now, or
  **don't send** it. It was already copied; only the email waits for this. Not sending also stops the
  automatic send for that invoice (a Sent invoice comes back through the poller on every change); a
  deliberate "Send invoice" click still sends it.
"""

from __future__ import annotations

from typing import Literal

from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.invoice_state import total_mismatch
from qbo_sync.domain.onedesk import SyncMessage
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskError
from qbo_sync.ports.store import InvoiceConflict
from qbo_sync.usecases.connect import ConnectPorts, Refused
from qbo_sync.usecases.invoice_commands import blocked_reason

type ConflictDecision = Literal["overwrite", "keep"]
type SendDecision = Literal["send", "drop"]

_ALREADY_DECIDED = "It was already decided (perhaps in another window): nothing was changed."


def decide_conflict(tenant: Tenant, invoice_id: str, decision: ConflictDecision, ports: ConnectPorts) -> None:
    connection = ports.connections.get(tenant.tenant_id)
    conflict = (
        ports.mappings.conflict(tenant.tenant_id, connection.realm_id, invoice_id) if connection else None
    )
    if conflict is None:
        raise Refused(409, "Nothing to decide", _ALREADY_DECIDED)
    link = ports.mappings.invoice_link(conflict.tenant_id, conflict.realm_id, conflict.invoice_id)
    if link is None or link.qbo_invoice_id != conflict.qbo_invoice_id:
        ports.mappings.close_conflict(conflict)  # the invoice was relinked since: nothing left to decide
        raise Refused(409, "Nothing to decide", _ALREADY_DECIDED)
    # QBO's edited version becomes the one we know, whichever way: an edit after it is a new conflict.
    known = {
        "conflict_since": None,
        "sync_token": conflict.qbo_sync_token,
        "qbo_fingerprint": conflict.qbo_fingerprint,
        "qbo_total": conflict.qbo_total,
    }
    number = conflict.qbo_doc_number or conflict.qbo_invoice_id
    if decision == "overwrite":
        # No content hash: the copy below updates QBO with OneDesk's content, with the edited version's
        # SyncToken (one request; a stale answer means QBO changed again, which is a new conflict).
        ports.mappings.save_link(
            link.model_copy(update={**known, "content_hash": None, "reported_hash": None})
        )
        ports.mappings.close_conflict(conflict)
        ports.commands.enqueue(
            InvoiceCommand(
                tenant_id=tenant.tenant_id,
                invoice_id=conflict.invoice_id,
                action=InvoiceAction.COPY,
                request_id=f"overwrite:{conflict.qbo_sync_token}:{conflict.invoice_id}"[:64],
                requested_at=ports.clock(),
                source="api",
            )
        )
        _audit(ports, conflict, f"overwrite QBO invoice {number} from OneDesk: queued")
        return
    text = (
        f"The version of this invoice edited in QuickBooks Online (invoice {number}, total "
        f"{conflict.qbo_total}) was kept by an admin. A later change in OneDesk is copied over it."
    )
    if (
        mismatch := total_mismatch(conflict.invoice_number, conflict.onedesk_total, conflict.qbo_total)
    ) is not None:
        text = f"{text} {mismatch}"
    _tell(ports, tenant, conflict.invoice_id, SyncMessage(level="warning", text=text, at=ports.clock()))
    content = conflict.onedesk_content_hash
    ports.mappings.save_link(
        link.model_copy(update={**known, "content_hash": content, "reported_hash": content})
    )
    ports.mappings.close_conflict(conflict)
    _audit(ports, conflict, f"kept QBO's version of invoice {number}")


def decide_parked_send(tenant: Tenant, invoice_id: str, decision: SendDecision, ports: ConnectPorts) -> None:
    command = ports.parked.parked_command(tenant.tenant_id, invoice_id, InvoiceAction.SEND)
    if command is None:
        raise Refused(409, "Nothing to decide", _ALREADY_DECIDED)
    if decision == "send":
        connection = ports.connections.get(tenant.tenant_id)
        settings = ports.tenants.get_settings(tenant.tenant_id, connection.realm_id) if connection else None
        if (reason := blocked_reason(connection, settings)) is not None:
            raise Refused(409, "Not sent yet", f"It cannot be sent while {reason}. Nothing was changed.")
        now = ports.clock()
        ports.commands.enqueue(command.model_copy(update={"source": "parked", "resumed_at": now}))
        ports.parked.unpark(command)
        _record(ports, command, Outcome.DONE, "the admin confirmed the send: queued")
        return
    text = (
        "Not sent by QuickBooks Online: an admin chose not to email it after it had waited. Use "
        '"Send invoice" to email it.'
    )
    _tell(ports, tenant, invoice_id, SyncMessage(level="warning", text=text, at=ports.clock()))
    connection = ports.connections.get(tenant.tenant_id)
    link = (
        ports.mappings.invoice_link(tenant.tenant_id, connection.realm_id, invoice_id) if connection else None
    )
    if link is not None:  # the poller would send it again on the next change of the Sent invoice
        ports.mappings.save_link(link.model_copy(update={"auto_send_declined": True}))
    ports.parked.unpark(command)
    _record(ports, command, Outcome.UNCHANGED, "the admin chose not to send it")


def _tell(ports: ConnectPorts, tenant: Tenant, invoice_id: str, message: SyncMessage) -> None:
    try:
        ports.onedesk_for(tenant).set_sync_message(invoice_id, message)
    except OneDeskError as error:
        raise Refused(502, "OneDesk did not answer", f"Nothing was changed ({error}). Try again.") from None


def _audit(ports: ConnectPorts, conflict: InvoiceConflict, reason: str) -> None:
    ports.audit.record(
        AuditRecord(
            tenant_id=conflict.tenant_id,
            at=ports.clock(),
            action="conflict",
            outcome=Outcome.DONE,
            invoice_id=conflict.invoice_id,
            invoice_number=conflict.invoice_number,
            realm_id=conflict.realm_id,
            qbo_invoice_id=conflict.qbo_invoice_id,
            reason=reason,
        )
    )


def _record(ports: ConnectPorts, command: InvoiceCommand, outcome: Outcome, reason: str) -> None:
    ports.audit.record(
        AuditRecord(
            tenant_id=command.tenant_id,
            at=ports.clock(),
            action="send",
            outcome=outcome,
            invoice_id=command.invoice_id,
            invoice_number=command.snapshot.number if command.snapshot else None,
            reason=reason,
        )
    )
