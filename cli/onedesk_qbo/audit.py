"""audit: every decision the product took about one invoice, oldest first, with what QBO called it.

``intuit_tid`` is the id Intuit support asks for about a QBO request; ``request id`` is the QBO
``requestid`` (idempotency key) of the write.
"""

from __future__ import annotations

import argparse

from onedesk_qbo.console import Column, err, out, print_json, table, text, when
from qbo_sync import wiring
from qbo_sync.domain.audit import AuditRecord


def _sync_tokens(record: AuditRecord) -> str:
    if record.sync_token_before is None and record.sync_token_after is None:
        return text(None)
    return f"{text(record.sync_token_before)} → {text(record.sync_token_after)}"


AUDIT_COLUMNS: tuple[Column[AuditRecord], ...] = (
    Column("when", lambda record: when(record.at)),
    Column("action", lambda record: record.action),
    Column("outcome", lambda record: record.outcome.value),
    Column("reason", lambda record: text(record.reason)),
    Column("realm", lambda record: text(record.realm_id)),
    Column("QBO invoice", lambda record: text(record.qbo_invoice_id)),
    Column("SyncToken", _sync_tokens),
    Column("intuit_tid", lambda record: text(record.intuit_tid)),
    Column("request id", lambda record: text(record.request_id)),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "audit",
        help="an invoice's decision history, with QBO intuit_tid and request ids",
        description="Every decision about OneDesk invoice INVOICE of the tenant, oldest first.",
    )
    parser.add_argument("invoice", metavar="INVOICE", help="the OneDesk invoice id")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if wiring.tenant_store().get_tenant(args.tenant) is None:
        err.print(f"no tenant {args.tenant}")
        return 1
    records = wiring.audit_log().invoice_history(args.tenant, args.invoice)
    if args.json:
        print_json([record.model_dump(mode="json") for record in records])
    elif records:
        number = next((r.invoice_number for r in records if r.invoice_number), None)
        title = f"Invoice {args.invoice}" + (f" ({number})" if number else "") + f" of tenant {args.tenant}"
        out.print(table(title, AUDIT_COLUMNS, records))
    else:
        out.print(f"no decisions recorded about invoice {args.invoice} of tenant {args.tenant}")
    return 0
