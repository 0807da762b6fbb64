"""Writes events/: one sample event per function, built by the local runner's own event builders so
they have exactly the shapes Lambda delivers (SQS FIFO batch, HTTP API payload v2, Scheduled Event).

Run: .venv/bin/python -m scripts.make_events. The samples name tenant ``t-demo`` (shared secret
``demo-shared-secret``) and the emulator's verifier token ``local-verifier-token``; the signed OneDesk
command carries a fixed timestamp, so outside its 5-minute window the product rightly answers 401:
re-sign it (local.operator.send_command shows how) to get a 202.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from local.runner.httpapi import Request, build_event
from local.runner.schedules import scheduled_event
from local.runner.spec import HttpRoute, ScheduleSource
from local.runner.sqs import lambda_sqs_record

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION, ACCOUNT = "us-east-1", "123456789012"
TENANT, SHARED_SECRET, VERIFIER = "t-demo", "demo-shared-secret", "local-verifier-token"
REQUESTED_AT = "2026-11-26T12:00:00+00:00"

INVOICE_SNAPSHOT = {
    "id": "1001",
    "number": "INV-0001",
    "status": "Open",
    "organization": {
        "id": "org-1",
        "name": "O'Brien & Sons",
        "billing_contact": {"name": "Pat O'Brien", "email": "ap@obrien.example"},
    },
    "issue_date": "2026-11-26",
    "due_date": "2026-12-26",
    "currency": "USD",
    "lines": [
        {
            "id": "l1",
            "kind": "time",
            "description": "Fix login page",
            "service_type": "Support",
            "hours": "1.333",
            "rate": "75.00",
            "amount": "99.98",
            "tax_rate_percent": None,
        },
        {
            "id": "l2",
            "kind": "discount",
            "description": "Loyalty discount",
            "service_type": None,
            "hours": None,
            "rate": None,
            "amount": "-9.98",
            "tax_rate_percent": None,
        },
    ],
    "subtotal": "99.98",
    "total": "90.00",
    "amount_paid": "0.00",
    "balance": "90.00",
    "modified_at": "2026-11-26T11:59:00+00:00",
}


def _sqs(queue: str, body: dict[str, Any], group: str) -> dict[str, Any]:
    text = json.dumps(body)
    message = {
        "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "Body": text,
        "MD5OfBody": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795694400000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795694400010",
            "SequenceNumber": "18849496460467696128",
            "MessageGroupId": group,
            "MessageDeduplicationId": hashlib.sha256(text.encode()).hexdigest(),
        },
    }
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:onedesk-qbo-{queue}"
    return {"Records": [lambda_sqs_record(message, arn, REGION)]}


def _http(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, query: str = ""
) -> dict[str, Any]:
    request = Request(
        method=method,
        target=f"{path}?{query}" if query else path,
        headers=[("Host", "abc123.execute-api.us-east-1.amazonaws.com"), *(headers or {}).items()],
        body=body,
        source_ip="203.0.113.10",
        protocol="HTTP/1.1",
    )
    return build_event(request, HttpRoute("Api", method, path, "abc123"), path, query, {})


def _schedule(rule: str) -> dict[str, Any]:
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    return dict(scheduled_event(ScheduleSource("Schedule", "rate(1 minute)", True, None, arn), REGION))


def events() -> dict[str, dict[str, Any]]:
    from qbo_sync.domain.signing import intuit_signature, sign  # noqa: PLC0415 - needs shared/ on the path

    command = {"invoice_id": "1001", "action": "copy", "request_id": "req-7f3a"}
    command_body = json.dumps(command).encode()
    timestamp = int(datetime.fromisoformat(REQUESTED_AT).timestamp())
    webhook_body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
                "source": "intuit.sample",
                "type": "qbo.payment.created.v1",
                "datacontenttype": "application/json",
                "time": "2026-11-26T12:00:00.000000000Z",
                "intuitentityid": "201",
                "intuitaccountid": "9130350000000001",
                "data": {},
            }
        ]
    ).encode()
    return {
        "copy_invoice.json": _sqs(
            "InvoiceCommandsQueue.fifo",
            {
                "tenant_id": TENANT,
                "invoice_id": "1001",
                "action": "copy",
                "request_id": "auto-copy:1001",
                "requested_at": REQUESTED_AT,
                "source": "poller",
                "snapshot": INVOICE_SNAPSHOT,
            },
            f"{TENANT}#3",
        ),
        "send_invoice.json": _sqs(
            "InvoiceDeliveriesQueue.fifo",
            {
                "tenant_id": TENANT,
                "realm_id": "9130350000000001",
                "invoice_id": "1001",
                "invoice_number": "INV-0001",
                "qbo_invoice_id": "130",
                "send_to": "ap@obrien.example",
                "request_id": "req-send-1",
                "requested_at": REQUESTED_AT,
            },
            f"{TENANT}#1001",
        ),
        "sync_payments.json": _sqs(
            "QboChangesQueue.fifo",
            {
                "realm_id": "9130350000000001",
                "entity": "Payment",
                "entity_id": "201",
                "operation": "created",
                "event_id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
                "occurred_at": "2026-11-26T12:00:00+00:00",
            },
            "9130350000000001",
        ),
        "onedesk_commands.json": _http(
            "POST",
            "/onedesk/commands",
            command_body,
            {
                "Content-Type": "application/json",
                "X-OneDesk-Tenant": TENANT,
                "X-OneDesk-Timestamp": str(timestamp),
                "X-OneDesk-Signature": sign(SHARED_SECRET, timestamp, command_body),
            },
        ),
        "qbo_webhook.json": _http(
            "POST",
            "/qbo/webhooks",
            webhook_body,
            {
                "Content-Type": "application/cloudevents-batch+json",
                "intuit-signature": intuit_signature(VERIFIER, webhook_body),
            },
        ),
        "health.json": _http("GET", "/health"),
        "onedesk_poller.json": _schedule("onedesk-qbo-OneDeskPollerEveryMinute"),
        "qbo_reconcile.json": _schedule("onedesk-qbo-QboReconcileEveryFiveMinutes"),
    }


def main() -> None:
    import sys  # noqa: PLC0415

    sys.path.insert(0, str(EVENTS.parent / "shared"))
    for name, event in events().items():
        (EVENTS / name).write_text(json.dumps(event, indent=2, default=str) + "\n")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
