"""How OneDesk invoice events land on invoice-commands.fifo: the scheduled poller (OneDesk has no
outgoing webhooks) and explicit, signed "Copy"/"Send" requests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.onedesk import Invoice, InvoiceStatus
from qbo_sync.domain.signing import REPLAY_MEMORY, verify
from qbo_sync.domain.tenant import Tenant, TriggerPolicy
from qbo_sync.ports.onedesk import OneDeskPort
from qbo_sync.ports.queues import CommandQueue
from qbo_sync.ports.store import RequestLog, TenantStore
from qbo_sync.ports.tokens import ConnectionStore
from qbo_sync.usecases.invoice_commands import blocked_reason

WATERMARK = "onedesk-invoices"
# Re-read this much before the watermark: OneDesk's clock and ours, and in-flight writes, may disagree.
POLL_OVERLAP = timedelta(minutes=5)
FIRST_POLL_LOOKBACK = timedelta(days=1)
ENQUEUE_BATCH = 10  # SQS SendMessageBatch's limit


def command_for(
    invoice: Invoice, policy: TriggerPolicy, tenant_id: str, now: datetime
) -> InvoiceCommand | None:
    """The trigger policy (defaults: became Open -> copy; Open and changed -> copy; marked Sent -> send).

    The automatic send's request id is one per invoice: later changes to a Sent invoice (our own tags
    included) re-check the copy but never email the customer again; a deliberate "Send invoice"
    request has its own id and does send again.
    """
    if invoice.status is InvoiceStatus.OPEN and policy.copy_when_opened:
        action, request = InvoiceAction.COPY, f"auto-copy:{invoice.id}:{invoice.modified_at.isoformat()}"
    elif invoice.status is InvoiceStatus.SENT and policy.send_when_marked_sent:
        action, request = InvoiceAction.SEND, f"auto-send:{invoice.id}"
    else:
        return None
    return InvoiceCommand(
        tenant_id=tenant_id,
        invoice_id=invoice.id,
        action=action,
        request_id=request[:64],
        requested_at=now,
        source="poller",
        snapshot=invoice,
    )


def latest_changes(invoices: Iterable[Invoice]) -> list[Invoice]:
    """Each invoice once, in its latest listed version, oldest change first."""
    latest: dict[str, Invoice] = {}
    for invoice in invoices:
        seen = latest.get(invoice.id)
        if seen is None or invoice.modified_at > seen.modified_at:
            latest[invoice.id] = invoice
    return sorted(latest.values(), key=lambda i: i.modified_at)


@dataclass(frozen=True)
class PollResult:
    tenant_id: str
    invoices_seen: int
    commands: int
    watermark: datetime


def poll_paused(tenant: Tenant, connections: ConnectionStore, tenants: TenantStore) -> str | None:
    """Why the poller leaves this tenant alone for now (disconnected, needs a reconnect, settings not
    complete); None when it polls. Skipping keeps its watermark where it was, so every change made
    meanwhile is picked up by the first poll once the admin fixes it, instead of one "waiting" note per
    invoice per minute. (A send marked meanwhile then waits for the admin's confirmation: see
    invoice_commands.)"""
    connection = connections.get(tenant.tenant_id)
    settings = tenants.get_settings(tenant.tenant_id, connection.realm_id) if connection else None
    return blocked_reason(connection, settings)


def poll_tenant(
    tenant: Tenant,
    onedesk: OneDeskPort,
    tenants: TenantStore,
    queue: CommandQueue,
    clock: Callable[[], datetime],
) -> PollResult:
    now = clock()
    watermark = tenants.get_watermark(tenant.tenant_id, WATERMARK)
    since = (watermark - POLL_OVERLAP) if watermark else now - FIRST_POLL_LOOKBACK
    ordered = latest_changes(onedesk.list_invoices_modified_since(since))
    # Ten at a time, the watermark following each batch: a poll cut short (timeout, crash) resumes where
    # it stopped instead of starting over.
    commands = 0
    newest = watermark
    for start in range(0, len(ordered), ENQUEUE_BATCH):
        batch = ordered[start : start + ENQUEUE_BATCH]
        batch_commands = [
            c for i in batch if (c := command_for(i, tenant.trigger_policy, tenant.tenant_id, now))
        ]
        if batch_commands:
            queue.enqueue_many(batch_commands)
            commands += len(batch_commands)
        # Never backwards: the overlap may return only invoices older than the stored watermark.
        newest = max(batch[-1].modified_at, newest) if newest else batch[-1].modified_at
        tenants.set_watermark(tenant.tenant_id, WATERMARK, newest)
    if newest is None:
        newest = since
        tenants.set_watermark(tenant.tenant_id, WATERMARK, newest)
    return PollResult(tenant.tenant_id, len(ordered), commands, newest)


class CommandRequest(BaseModel):
    """Body of ``POST /onedesk/commands``."""

    model_config = ConfigDict(extra="forbid")

    invoice_id: str = Field(min_length=1, max_length=128)
    action: Literal["copy", "send"]
    request_id: str = Field(min_length=1, max_length=64)


class Unauthorized(Exception):
    """Unknown tenant, missing/stale timestamp or wrong signature (all answered alike: 401)."""


def authenticate(
    tenants: TenantStore,
    *,
    tenant_id: str | None,
    timestamp: str | None,
    signature: str | None,
    raw_body: bytes,
    now: datetime,
) -> Tenant:
    tenant = tenants.get_tenant(tenant_id) if tenant_id else None
    if tenant is None or not verify(
        tenant.shared_secret.get_secret_value(), timestamp, raw_body, signature, now
    ):
        raise Unauthorized("bad or missing signature")
    return tenant


@dataclass(frozen=True)
class Accepted:
    command: InvoiceCommand
    replayed: bool  # the same request was honoured moments ago: answered alike, nothing queued again


def accept_command(
    tenant: Tenant, request: CommandRequest, queue: CommandQueue, requests: RequestLog, now: datetime
) -> Accepted:
    """Queue an explicit request once (the worker fetches the invoice itself: no snapshot). A signed
    request captured and sent again while its signature is still valid is recognised by its request id
    and does nothing."""
    command = InvoiceCommand(
        tenant_id=tenant.tenant_id,
        invoice_id=request.invoice_id,
        action=InvoiceAction(request.action),
        request_id=request.request_id,
        requested_at=now,
        source="api",
    )
    if not requests.claim(tenant.tenant_id, request.request_id, now, now + REPLAY_MEMORY):
        return Accepted(command, replayed=True)
    try:
        queue.enqueue(command)
    except Exception:
        requests.release(tenant.tenant_id, request.request_id)  # not honoured: OneDesk's retry must be
        raise
    return Accepted(command, replayed=False)
