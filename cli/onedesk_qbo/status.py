"""status: each tenant's connection, plan, parked work and last sync; each queue's depth and its DLQ's.

A tenant's row is one ``TenantStatus``; a new fact about tenants is one more field and one more entry in
``TENANT_COLUMNS`` (the JSON output follows the fields).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from onedesk_qbo.console import Column, err, out, print_json, table, text, when
from onedesk_qbo.queues import QUEUES, QueueAdmin
from qbo_sync import wiring
from qbo_sync.adapters.aws import sqs_client
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskError, OneDeskPort
from qbo_sync.ports.store import MappingStore, ParkedWork
from qbo_sync.ports.tokens import ConnectionStore

NOT_CONNECTED = "not connected"


@dataclass(frozen=True)
class TenantStatus:
    tenant_id: str
    name: str
    connection: str  # connected, needs_reconnect, disconnected, or not connected
    connection_reason: str | None
    realm_id: str | None
    company: str | None
    country: str | None
    plan: str | None
    plan_error: str | None  # OneDesk could not tell (bad key, outage): the rest of the row still shows
    parked: int
    conflicts: int  # invoices edited in QBO since our last copy, waiting for the admin's choice
    last_sync_at: datetime | None


def tenant_status(
    tenant: Tenant,
    connections: ConnectionStore,
    parked: ParkedWork,
    mappings: MappingStore,
    onedesk_for: Callable[[Tenant], OneDeskPort],
) -> TenantStatus:
    connection = connections.get(tenant.tenant_id)
    try:
        plan, plan_error = str(onedesk_for(tenant).get_account_profile().plan), None
    except OneDeskError as error:
        plan, plan_error = None, f"{type(error).__name__}: {error}"
    return TenantStatus(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        connection=connection.status.value if connection else NOT_CONNECTED,
        connection_reason=connection.status_reason if connection else None,
        realm_id=connection.realm_id if connection else None,
        company=connection.company_name if connection else None,
        country=connection.country if connection else None,
        plan=plan,
        plan_error=plan_error,
        parked=parked.count_parked(tenant.tenant_id),
        conflicts=len(mappings.conflicts(tenant.tenant_id, connection.realm_id)) if connection else 0,
        last_sync_at=connection.last_sync_at if connection else None,
    )


def _connection_cell(row: TenantStatus) -> str:
    return f"{row.connection} ({row.connection_reason})" if row.connection_reason else row.connection


TENANT_COLUMNS: tuple[Column[TenantStatus], ...] = (
    Column("tenant", lambda row: f"{row.tenant_id}\n{row.name}"),
    Column("connection", _connection_cell),
    Column("realm", lambda row: text(row.realm_id)),
    Column("company", lambda row: text(row.company)),
    Column("country", lambda row: text(row.country)),
    Column("plan", lambda row: row.plan or f"unknown: {row.plan_error}"),
    Column("parked", lambda row: str(row.parked)),
    Column("conflicts", lambda row: str(row.conflicts)),
    Column("last sync", lambda row: when(row.last_sync_at)),
)


@dataclass(frozen=True)
class QueueStatus:
    queue: str
    waiting: int
    in_flight: int
    dead_letters: int


QUEUE_COLUMNS: tuple[Column[QueueStatus], ...] = (
    Column("queue", lambda row: row.queue),
    Column("waiting", lambda row: str(row.waiting)),
    Column("in flight", lambda row: str(row.in_flight)),
    Column("dead letters", lambda row: str(row.dead_letters)),
)


def queue_statuses(admin: QueueAdmin) -> list[QueueStatus]:
    """Queues are shared by all tenants (FIFO groups cannot be counted), so depths are per queue."""
    rows = []
    for spec in QUEUES.values():
        url = spec.url(wiring.settings())
        depth = admin.depth(url)
        dead = admin.depth(admin.dead_letter_queue(url))
        rows.append(QueueStatus(spec.name, depth.visible, depth.in_flight, dead.visible + dead.in_flight))
    return rows


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="tenants (connection, plan, parked work, last sync) and queue depths",
        description="Each tenant's QBO connection, realm and country, OneDesk plan, parked work and last "
        "successful sync; each queue's depth and its dead-letter queue's.",
    )
    parser.add_argument("--tenant", help="only this tenant")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = wiring.tenant_store()
    if args.tenant:
        tenant = store.get_tenant(args.tenant)
        if tenant is None:
            err.print(f"no tenant {args.tenant}")
            return 1
        tenants = [tenant]
    else:
        tenants = store.list_tenants()
    rows = [
        tenant_status(
            tenant,
            wiring.connection_store(),
            wiring.parked_work(),
            wiring.mapping_store(),
            wiring.onedesk_for,
        )
        for tenant in sorted(tenants, key=lambda t: t.tenant_id)
    ]
    queues = queue_statuses(QueueAdmin(sqs_client()))
    if args.json:
        print_json({"tenants": [asdict(row) for row in rows], "queues": [asdict(row) for row in queues]})
    else:
        out.print(table("Tenants", TENANT_COLUMNS, rows))
        out.print(table("Queues", QUEUE_COLUMNS, queues))
    return 0
