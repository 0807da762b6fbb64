"""Run one invoice command for its tenant: find the tenant's QBO connection and settings, park the
command while they are missing or need the admin (never fail it), otherwise copy (and maybe send).

A command for an invoice OneDesk no longer has is final at once (recorded in the audit log), never
retried: nothing can make that invoice appear again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceCommand
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.invoice_mapping import CompanyProfile
from qbo_sync.domain.onedesk import SyncMessage
from qbo_sync.domain.tenant import Tenant, TenantSettings
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskNotFound, OneDeskPort
from qbo_sync.ports.qbo import QboAuthError, QboPort
from qbo_sync.ports.store import AuditLog, MappingStore, ParkedWork, TenantStore
from qbo_sync.ports.tokens import ConnectionStore, NeedsReconnect
from qbo_sync.usecases.copy_invoice import CopyContext, CopyPorts, CopyResult, DeliveryQueue, copy_invoice

# The settings page shows the last successful sync to the minute; no need to write it per message.
SYNC_RECORD_INTERVAL = timedelta(minutes=1)


class UnknownTenant(Exception):
    """The command names a tenant we do not have: it can never succeed (dead-letter it)."""


@dataclass(frozen=True)
class CommandPorts:
    tenants: TenantStore
    connections: ConnectionStore
    parked: ParkedWork
    mappings: MappingStore
    audit: AuditLog
    deliveries: DeliveryQueue
    onedesk_for: Callable[[Tenant], OneDeskPort]
    qbo_for: Callable[[str, str], QboPort]
    clock: Callable[[], datetime]


def handle_invoice_command(command: InvoiceCommand, ports: CommandPorts) -> CopyResult:
    tenant = ports.tenants.get_tenant(command.tenant_id)
    if tenant is None:
        raise UnknownTenant(f"no tenant {command.tenant_id!r}")
    onedesk = ports.onedesk_for(tenant)
    try:
        return _run(command, tenant, onedesk, ports)
    except OneDeskNotFound as gone:
        # Copy clicked, then the invoice deleted (or deleted before a write-back): final, and there is no
        # OneDesk invoice left to show a message on, so the audit log says why.
        reason = f"the invoice no longer exists in OneDesk, so nothing more is done for this request ({gone})"
        _audit(command, ports, Outcome.FAILED, reason)
        return CopyResult(Outcome.FAILED, reason)
    except OneDeskAuthError as refused:
        # The tenant's OneDesk API key is revoked or lacks access: no retry can help until it is replaced.
        # Parked like any work waiting for the admin, it resumes with the next settings save or reconnect.
        return _park(command, f"OneDesk refused the integration's API key ({refused})", None, ports)


def _run(command: InvoiceCommand, tenant: Tenant, onedesk: OneDeskPort, ports: CommandPorts) -> CopyResult:
    connection = ports.connections.get(tenant.tenant_id)
    settings = ports.tenants.get_settings(tenant.tenant_id, connection.realm_id) if connection else None
    if (reason := blocked_reason(connection, settings)) is not None:
        return _park(command, reason, onedesk, ports)
    assert connection is not None and settings is not None  # blocked_reason checked both
    ctx = CopyContext(
        tenant_id=tenant.tenant_id,
        company=CompanyProfile(
            realm_id=connection.realm_id,
            country=str(connection.country),
            home_currency=connection.home_currency,
            custom_txn_numbers=connection.custom_txn_numbers,
            automated_sales_tax=connection.automated_sales_tax,
        ),
        settings=settings,
    )
    copy_ports = CopyPorts(
        onedesk=onedesk,
        qbo=ports.qbo_for(tenant.tenant_id, connection.realm_id),
        mappings=ports.mappings,
        audit=ports.audit,
        deliveries=ports.deliveries,
        tax_catalogs=ports.tenants,
        clock=ports.clock,
    )
    try:
        result = copy_invoice(command, ctx, copy_ports)
    except NeedsReconnect as needs:
        return _park(command, f"QuickBooks Online needs to be reconnected ({needs.reason})", onedesk, ports)
    except QboAuthError as refused:
        # QBO refuses even a freshly refreshed token (app disconnected in QBO, wrong environment): only
        # the admin can fix it, so say so on the settings page and wait for the reconnect.
        ports.connections.mark_needs_reconnect(tenant.tenant_id, refused.message)
        return _park(
            command, f"QuickBooks Online needs to be reconnected ({refused.message})", onedesk, ports
        )
    now = ports.clock()
    if connection.last_sync_at is None or now - connection.last_sync_at > SYNC_RECORD_INTERVAL:
        ports.connections.record_sync(tenant.tenant_id, now)  # "last successful sync" on the settings page
    return result


def blocked_reason(connection: Connection | None, settings: TenantSettings | None) -> str | None:
    """Why this tenant's work must wait for the admin, in words for the settings page; None if it can run."""
    if connection is None:
        return "QuickBooks Online is not connected"
    if connection.status is ConnectionStatus.DISCONNECTED:
        return "QuickBooks Online needs to be reconnected (it was disconnected)"
    if connection.status is ConnectionStatus.NEEDS_RECONNECT:
        why = connection.status_reason or "authorization expired"
        return f"QuickBooks Online needs to be reconnected ({why})"
    if not connection.country:
        return "the QuickBooks Online company's country is not known yet (reconnect to read it)"
    if settings is None or not settings.complete:
        return "the integration settings (default income account and tax code) are not complete"
    return None


def _park(
    command: InvoiceCommand, reason: str, onedesk: OneDeskPort | None, ports: CommandPorts
) -> CopyResult:
    """Wait for the admin; ``onedesk`` None when OneDesk itself refuses us (nothing can be shown there)."""
    ports.parked.park(command, reason)
    _audit(command, ports, Outcome.PARKED, reason)
    if onedesk is not None:
        onedesk.set_sync_message(
            command.invoice_id,
            SyncMessage(
                level="warning",
                text=f"Waiting to copy to QuickBooks Online: {reason}. It will run as soon as the admin "
                "fixes it under Administration > Financials.",
                at=ports.clock(),
            ),
        )
    return CopyResult(Outcome.PARKED, reason)


def _audit(command: InvoiceCommand, ports: CommandPorts, outcome: Outcome, reason: str) -> None:
    ports.audit.record(
        AuditRecord(
            tenant_id=command.tenant_id,
            at=ports.clock(),
            action=command.action.value,
            outcome=outcome,
            invoice_id=command.invoice_id,
            invoice_number=command.snapshot.number if command.snapshot else None,
            reason=reason,
        )
    )
