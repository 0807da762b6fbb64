"""Run one invoice command for its tenant: check the OneDesk plan, find the tenant's QBO connection and
settings, park the command while they are missing or need the admin (never fail it), otherwise copy (and
maybe send).

A command for an invoice OneDesk no longer has is final at once (recorded in the audit log), never
retried: nothing can make that invoice appear again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.invoice_mapping import CompanyProfile
from qbo_sync.domain.onedesk import Plan, SyncMessage
from qbo_sync.domain.tenant import Tenant, TenantSettings
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskNotFound, OneDeskPort
from qbo_sync.ports.qbo import QboAuthError, QboPort
from qbo_sync.ports.queues import DeliveryQueue
from qbo_sync.ports.store import AuditLog, MappingStore, ParkedWork, TenantStore
from qbo_sync.ports.tokens import ConnectionStore, NeedsReconnect
from qbo_sync.usecases.copy_invoice import (
    CopyContext,
    CopyPorts,
    CopyResult,
    copy_invoice,
    tell_unless_shown,
)

# The settings page shows the last successful sync to the minute; no need to write it per message.
SYNC_RECORD_INTERVAL = timedelta(minutes=1)
HELD_SEND = (
    "it was marked Sent while QuickBooks Online was not connected, so an admin confirms the email under "
    "Administration > Financials > QuickBooks Online"
)


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
    plan_of: Callable[[Tenant], Plan]  # the tenant's OneDesk plan, cached for a few minutes per warm Lambda
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class CommandContext:
    """Who the command is for and whether it can run now: ``refused`` (final: the plan does not include
    the integration), ``blocked`` (waits for the admin), or ``copy`` (everything a copy needs)."""

    tenant: Tenant
    onedesk: OneDeskPort
    connection: Connection | None = None
    refused: str | None = None
    blocked: str | None = None
    copy: CopyContext | None = None


def command_context(command: InvoiceCommand, ports: CommandPorts) -> CommandContext:
    tenant = ports.tenants.get_tenant(command.tenant_id)
    if tenant is None:
        raise UnknownTenant(f"no tenant {command.tenant_id!r}")
    onedesk = ports.onedesk_for(tenant)
    plan = ports.plan_of(tenant)
    if not plan.includes_invoicing_integrations:
        return CommandContext(tenant, onedesk, refused=plan_refusal(plan))
    connection = ports.connections.get(tenant.tenant_id)
    settings = ports.tenants.get_settings(tenant.tenant_id, connection.realm_id) if connection else None
    if (reason := blocked_reason(connection, settings)) is not None:
        return CommandContext(tenant, onedesk, connection, blocked=reason)
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
    return CommandContext(tenant, onedesk, connection, copy=ctx)


def copy_ports(context: CommandContext, ports: CommandPorts) -> CopyPorts:
    assert context.copy is not None, "only a command that can run has copy ports"
    return CopyPorts(
        onedesk=context.onedesk,
        qbo=ports.qbo_for(context.tenant.tenant_id, context.copy.company.realm_id),
        mappings=ports.mappings,
        audit=ports.audit,
        deliveries=ports.deliveries,
        tax_catalogs=ports.tenants,
        clock=ports.clock,
    )


def handle_invoice_command(command: InvoiceCommand, ports: CommandPorts) -> CopyResult:
    try:
        return _run(command, ports)
    except OneDeskNotFound as gone:
        # Copy clicked, then the invoice deleted (or deleted before a write-back): final, and there is no
        # OneDesk invoice left to show a message on, so the audit log says why.
        reason = f"the invoice no longer exists in OneDesk, so nothing more is done for this request ({gone})"
        _audit(command, Outcome.FAILED, reason, ports)
        return CopyResult(Outcome.FAILED, reason)
    except OneDeskAuthError as refused:
        # The tenant's OneDesk API key is revoked or lacks access: no retry can help until it is replaced.
        # Parked like any work waiting for the admin, it resumes with the next settings save or reconnect.
        return _park(command, f"OneDesk refused the integration's API key ({refused})", None, ports)


def _run(command: InvoiceCommand, ports: CommandPorts) -> CopyResult:
    context = command_context(command, ports)
    onedesk = context.onedesk
    if context.refused is not None:
        return _refuse(command, context.refused, onedesk, ports)
    if context.blocked is not None:
        return _park(command, context.blocked, onedesk, ports)
    assert context.connection is not None and context.copy is not None
    held = _hold_send(command, context.connection, ports)
    if held:  # copied now (copies may run), emailed only once the admin confirms
        command = command.model_copy(update={"action": InvoiceAction.COPY})
    try:
        result = copy_invoice(command, context.copy, copy_ports(context, ports))
    except NeedsReconnect as needs:
        return _park(command, f"QuickBooks Online needs to be reconnected ({needs.reason})", onedesk, ports)
    except QboAuthError as refused:
        # QBO refuses even a freshly refreshed token (app disconnected in QBO, wrong environment): only
        # the admin can fix it, so say so on the settings page and wait for the reconnect.
        ports.connections.mark_needs_reconnect(context.tenant.tenant_id, refused.message)
        return _park(
            command, f"QuickBooks Online needs to be reconnected ({refused.message})", onedesk, ports
        )
    now = ports.clock()
    if held and result.outcome is Outcome.DONE:
        text = f"Copied to QuickBooks Online but not emailed yet: {HELD_SEND}."
        tell_unless_shown(onedesk, command, _shown(command), SyncMessage(level="warning", text=text, at=now))
    elif (
        command.action is InvoiceAction.SEND
        and command.source == "api"
        and result.outcome is Outcome.DONE
        and (earlier := ports.parked.parked_command(command.tenant_id, command.invoice_id, command.action))
    ):
        # This click sends now: a send parked earlier for the same invoice must not email it again later.
        ports.parked.unpark(earlier)
    connection = context.connection
    if connection.last_sync_at is None or now - connection.last_sync_at > SYNC_RECORD_INTERVAL:
        ports.connections.record_sync(context.tenant.tenant_id, now)  # "last successful sync" on the page
    return result


def plan_refusal(plan: Plan) -> str:
    return (
        f"the QuickBooks Online integration is part of OneDesk's {Plan.PREMIUM.value} plan and higher; this "
        f"account is on the {plan.value} plan"
    )


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


def _hold_send(command: InvoiceCommand, connection: Connection, ports: CommandPorts) -> bool:
    """An automatic send (the invoice was marked Sent) that happened before the current connection, or one
    behind a send already waiting for the admin, is parked for the admin's confirmation: the customer is
    never emailed days later without it. Explicit clicks and confirmed sends run."""
    if command.action is not InvoiceAction.SEND or command.source != "poller":
        return False
    changed_before = command.snapshot is not None and command.snapshot.modified_at < connection.connected_at
    if (
        not changed_before
        and ports.parked.parked_command(command.tenant_id, command.invoice_id, command.action) is None
    ):
        return False
    ports.parked.park(command, HELD_SEND)
    _audit(command, Outcome.PARKED, HELD_SEND, ports)
    return True


def _refuse(command: InvoiceCommand, reason: str, onedesk: OneDeskPort, ports: CommandPorts) -> CopyResult:
    """Final: the command is not parked, nor retried."""
    message = SyncMessage(level="error", text=f"Not copied to QuickBooks Online: {reason}.", at=ports.clock())
    if tell_unless_shown(onedesk, command, _shown(command), message):
        _audit(command, Outcome.REFUSED, reason, ports)
    return CopyResult(Outcome.REFUSED, reason)


def _park(
    command: InvoiceCommand, reason: str, onedesk: OneDeskPort | None, ports: CommandPorts
) -> CopyResult:
    """Wait for the admin; ``onedesk`` None when OneDesk itself refuses us (nothing can be shown there)."""
    ports.parked.park(command, reason)
    _audit(command, Outcome.PARKED, reason, ports)
    if onedesk is None:
        return CopyResult(Outcome.PARKED, reason)
    text = (
        f"Waiting to copy to QuickBooks Online: {reason}. It will run as soon as the admin fixes it under "
        "Administration > Financials."
    )
    if command.action is InvoiceAction.SEND:
        text += " The admin then confirms the email before QuickBooks Online sends it."
    onedesk.set_sync_message(command.invoice_id, SyncMessage(level="warning", text=text, at=ports.clock()))
    return CopyResult(Outcome.PARKED, reason)


def _shown(command: InvoiceCommand) -> SyncMessage | None:
    return command.snapshot.sync_message if command.snapshot else None


def _audit(command: InvoiceCommand, outcome: Outcome, reason: str, ports: CommandPorts) -> None:
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
