"""preview: a dry run of copying (or sending) one invoice now: the exact QBO payloads and every request the
copy would make, with nothing written to QBO, OneDesk, the table or the queues.

It runs the product's own copy with dry-run ports (``qbo_sync.usecases.preview``): QBO reads are real (the
customer and product lookups), writes are listed and answered with placeholders, so the list stops being
certain after the first write whose real answer would matter (a stale SyncToken, a name QBO refuses).
"""

from __future__ import annotations

import argparse
import json
import uuid

from pydantic_core import to_jsonable_python

from onedesk_qbo.console import Column, err, out, print_json, table, text
from qbo_sync import wiring
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.usecases.preview import CopyPreview, QboRequest, preview_invoice_command

REQUEST_COLUMNS: tuple[Column[QboRequest], ...] = (
    Column("", lambda request: "write (not sent)" if request.write else "read"),
    Column("method", lambda request: request.method),
    Column("operation", lambda request: request.operation),
    Column("entity", lambda request: request.entity),
    Column("id", lambda request: text(request.entity_id)),
    Column("requestid", lambda request: text(request.request_id)),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "preview",
        help="dry run of copying an invoice: the QBO payloads and requests, nothing written",
        description="What copying OneDesk invoice INVOICE of the tenant would do now, without doing it.",
    )
    parser.add_argument("invoice", metavar="INVOICE", help="the OneDesk invoice id")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--send", action="store_true", help="preview 'Send invoice' rather than 'Copy'")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if wiring.tenant_store().get_tenant(args.tenant) is None:
        err.print(f"no tenant {args.tenant}")
        return 1
    command = InvoiceCommand(
        tenant_id=args.tenant,
        invoice_id=args.invoice,
        action=InvoiceAction.SEND if args.send else InvoiceAction.COPY,
        request_id=f"preview-{uuid.uuid4().hex}",
        requested_at=wiring.utc_now(),
        source="api",  # as a click on "Copy"/"Send invoice" would ask
    )
    preview = preview_invoice_command(command, wiring.command_ports())
    if args.json:
        print_json(to_jsonable_python(_summary(preview)))
    else:
        _show(preview)
    return 0


def _summary(preview: CopyPreview) -> dict[str, object]:
    return {
        "outcome": preview.result.outcome.value if preview.result else None,
        "reason": preview.result.reason if preview.result else (preview.refused or preview.blocked),
        "refused": preview.refused,
        "waits_for_admin": preview.blocked,
        "qbo_requests": preview.qbo_requests,
        "onedesk_writes": preview.onedesk_writes,
        "store_writes": preview.store_writes,
        "audit": preview.audit,
        "deliveries": preview.deliveries,
    }


def _show(preview: CopyPreview) -> None:
    if preview.refused is not None:
        out.print(f"would be refused for good: {preview.refused}")
        return
    if preview.blocked is not None:
        out.print(f"would wait for the admin: {preview.blocked}")
        return
    assert preview.result is not None
    verdict = preview.result.outcome.value + (f": {preview.result.reason}" if preview.result.reason else "")
    out.print(f"outcome: {verdict}")
    out.print(table("QBO requests, in order", REQUEST_COLUMNS, preview.qbo_requests))
    for request in preview.qbo_writes:
        out.print(f"\n{request.operation} {request.entity} payload:")
        out.print(json.dumps(to_jsonable_python(request.payload), indent=2), markup=False)
    for name, writes in (("OneDesk", preview.onedesk_writes), ("table", preview.store_writes)):
        if writes:
            out.print(f"\n{name} writes (not made): " + ", ".join(what for what, _ in writes))
    if preview.deliveries:
        out.print(f"\nQBO would then email it to {preview.deliveries[0].send_to}")
