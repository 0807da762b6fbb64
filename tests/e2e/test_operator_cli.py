"""The operator CLI, run as the installed `onedesk-qbo` console script, against the whole local stack:
configured only by the environment `make dev` writes (local.operator.operator_environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.controls import OneDeskControl
from local.operator import operator_environment
from local.stack import LocalStack
from onedesk_qbo.tenants import register_tenant
from qbo_sync.adapters.queues.sqs import SqsFifoQueue
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand, command_group_id
from tests.e2e.conftest import SUPPORT, World, queue_depth, sqs, wait_for

CLI = Path(sys.executable).with_name("onedesk-qbo")


def cli(stack: LocalStack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert CLI.exists(), f"{CLI} is missing: `make .venv/.stamp` installs the console script"
    environment = {**os.environ, **operator_environment(stack), "COLUMNS": "250"}
    return subprocess.run(
        [str(CLI), *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def cli_json(stack: LocalStack, *args: str, stdin: str = "") -> Any:
    done = cli(stack, *args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _onedesk_account(stack: LocalStack, name: str) -> OneDeskControl:
    return OneDeskControl.new_account(stack.components["onedesk"].control_url, name)  # type: ignore[attr-defined]


def _qbo_reference(world: World, invoice_id: str) -> dict[str, Any] | None:
    reference: dict[str, Any] | None = world.onedesk.record(invoice_id)["externalReferences"].get("qbo")
    return reference


def test_register_tenant_then_status_shows_it_and_refuses_a_second_registration(stack: LocalStack) -> None:
    account = _onedesk_account(stack, "Globex CLI")

    registered = cli_json(stack, "register-tenant", "--name", "Globex CLI", stdin=account.api_key + "\n")

    tenant_id = registered["tenant_id"]
    assert registered["onedesk_account"] == account.account_id
    assert registered["plan"] == "Premium"
    assert len(registered["shared_secret"]) >= 32
    status = cli_json(stack, "status", "--tenant", tenant_id)
    (row,) = status["tenants"]
    assert row["name"] == "Globex CLI"
    assert row["connection"] == "not connected"
    assert row["plan"] == "Premium"
    assert row["parked"] == 0
    assert {q["queue"] for q in status["queues"]} == {"invoice-commands", "invoice-deliveries", "qbo-changes"}

    again = cli(
        stack,
        "register-tenant",
        "--name",
        "Other",
        "--tenant-id",
        tenant_id,
        "--onedesk-api-key",
        account.api_key,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert cli_json(stack, "status", "--tenant", tenant_id)["tenants"][0]["name"] == "Globex CLI"


def test_register_tenant_refuses_a_key_onedesk_refuses(stack: LocalStack) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    refused = cli(
        stack, "register-tenant", "--name", "Typo", "--tenant-id", tenant_id, "--onedesk-api-key", "not-a-key"
    )
    assert refused.returncode == 1
    assert "OneDesk refused the API key" in refused.stderr
    assert "no tenant" in cli(stack, "status", "--tenant", tenant_id).stderr


def test_status_shows_a_connected_tenant_and_survives_a_onedesk_error(us_world: World) -> None:
    world = us_world
    invoice = world.open_invoice(world.onedesk.organization("Status E2E"), [SUPPORT])
    world.command(invoice["id"])
    wait_for(lambda: _qbo_reference(world, invoice["id"]), what="invoice copied")
    broken = register_tenant("Revoked Key Ltd", "revoked-key")

    status = cli_json(world.stack, "status")

    rows = {row["tenant_id"]: row for row in status["tenants"]}
    connected = rows[world.tenant.tenant_id]
    assert connected["connection"] == "connected"
    assert connected["realm_id"] == world.qbo.realm_id
    assert connected["country"] == "US"
    assert connected["plan"] == "Premium"
    assert connected["parked"] == 0
    assert datetime.fromisoformat(connected["last_sync_at"]) <= datetime.now(UTC)
    assert rows[broken.tenant_id]["plan"] is None
    assert "OneDeskAuthError" in rows[broken.tenant_id]["plan_error"]
    table = cli(world.stack, "status", "--tenant", world.tenant.tenant_id)
    assert table.returncode == 0
    assert world.tenant.tenant_id in table.stdout and world.qbo.realm_id in table.stdout


def test_backfill_copies_the_open_invoices_and_resumes_from_its_cursor(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Backfill E2E")
    opened = [world.open_invoice(org, [{**SUPPORT, "hours": hours}]) for hours in (1, 2, 3)]
    draft = world.onedesk.invoice(org, [SUPPORT])

    first = cli(world.stack, "backfill", "--tenant", world.tenant.tenant_id)

    assert first.returncode == 0, first.stderr
    assert "3 Open invoices to copy" in first.stderr
    assert "enqueued 3 copy commands" in first.stdout
    for invoice in opened:
        wait_for(lambda invoice=invoice: _qbo_reference(world, invoice["id"]), what=f"{invoice['id']} copied")
    assert _qbo_reference(world, draft["id"]) is None
    assert len(world.qbo.entities("Invoice")) == 3

    # The copies wrote their QBO references back (a OneDesk change), so a resumed run sees them again:
    # re-copies of unchanged invoices, which change nothing in QBO and write nothing anywhere.
    before = world.qbo.last_seq()
    history = [_outcomes(world, invoice["id"]) for invoice in opened]
    second = cli(world.stack, "backfill", "--tenant", world.tenant.tenant_id)
    assert second.returncode == 0, second.stderr
    assert "resuming from" in second.stderr
    assert "3 Open invoices to copy" in second.stderr
    wait_for(lambda: queue_depth(world.stack, "InvoiceCommandsQueue") == 0, what="the re-copies handled")
    assert [_outcomes(world, invoice["id"]) for invoice in opened] == history  # no audit row either
    assert len(world.qbo.entities("Invoice")) == 3
    # Reads may come from the payment sync the QBO webhooks of the first copies trigger; no writes.
    assert [r["path"] for r in world.qbo.data_requests(before) if r["method"] != "GET"] == []


def _outcomes(world: World, invoice_id: str) -> list[str]:
    from qbo_sync import wiring  # noqa: PLC0415 - reads the audit log the product wrote

    return [r.outcome.value for r in wiring.audit_log().invoice_history(world.tenant.tenant_id, invoice_id)]


def test_backfill_refuses_a_tenant_that_cannot_copy_yet(stack: LocalStack) -> None:
    tenant = register_tenant("Unconnected Ltd", _onedesk_account(stack, "Unconnected Ltd").api_key)
    refused = cli(stack, "backfill", "--tenant", tenant.tenant_id)
    assert refused.returncode == 1
    assert "QuickBooks Online is not connected" in refused.stderr


def _dead_letter(world: World, invoice_id: str, reason: str) -> None:
    """A copy command dead-lettered with a reason, as after a long outage."""
    command = InvoiceCommand(
        tenant_id=world.tenant.tenant_id,
        invoice_id=invoice_id,
        action=InvoiceAction.COPY,
        request_id=uuid.uuid4().hex,
        requested_at=datetime.now(UTC),
        source="api",
    )
    dlq = SqsFifoQueue(sqs(world.stack), world.stack.provisioned.ref("InvoiceCommandsDLQ"))
    dlq.publish(
        command.model_dump_json(),
        group_id=command_group_id(command.tenant_id, invoice_id, 8),
        deduplication_id=uuid.uuid4().hex,
        reason=reason,
    )


def _tenant_dead_letters(world: World) -> list[dict[str, Any]]:
    messages = (
        sqs(world.stack)
        .receive_message(
            QueueUrl=world.stack.provisioned.ref("InvoiceCommandsDLQ"),
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
        )
        .get("Messages", [])
    )
    return [m for m in messages if json.loads(m["Body"]).get("tenant_id") == world.tenant.tenant_id]


def test_replay_dlq_previews_then_moves_a_dead_letter_back_and_it_is_processed(us_world: World) -> None:
    world = us_world
    invoice = world.open_invoice(world.onedesk.organization("Replay E2E"), [SUPPORT])
    _dead_letter(world, invoice["id"], "QBO unavailable for 10 receives")
    tenant = world.tenant.tenant_id

    declined = cli(world.stack, "replay-dlq", "invoice-commands", "--tenant", tenant, stdin="n\n")

    assert declined.returncode == 1
    assert invoice["id"] in declined.stdout
    assert "QBO unavailable for 10 receives" in declined.stdout
    assert "nothing moved" in declined.stderr
    assert len(_tenant_dead_letters(world)) == 1  # still there, and visible again at once

    replayed = cli(world.stack, "replay-dlq", "invoice-commands", "--tenant", tenant, "--json", stdin="y\n")

    assert replayed.returncode == 0, replayed.stderr
    (shown,) = json.loads(replayed.stdout)["dead_letters"]
    assert shown["owner"] == tenant and shown["subject"] == invoice["id"] and shown["action"] == "copy"
    assert shown["error_reason"] == "QBO unavailable for 10 receives"
    assert shown["receive_count"] >= 1 and shown["problem"] is None
    assert "moved 1 message back onto invoice-commands" in replayed.stderr
    wait_for(lambda: _qbo_reference(world, invoice["id"]), what="replayed command copied")
    assert _tenant_dead_letters(world) == []


def test_replay_dlq_shows_why_a_malformed_message_does_not_parse(us_world: World) -> None:
    world = us_world
    bad = json.dumps({"tenant_id": world.tenant.tenant_id, "invoice_id": "inv-x", "action": "refund"})
    SqsFifoQueue(sqs(world.stack), world.stack.provisioned.ref("InvoiceCommandsDLQ")).publish(
        bad,
        group_id="bad",
        deduplication_id=uuid.uuid4().hex,
        reason="action: Input should be 'copy' or 'send'",
    )

    preview = cli(
        world.stack,
        "replay-dlq",
        "invoice-commands",
        "--tenant",
        world.tenant.tenant_id,
        "--json",
        stdin="n\n",
    )

    assert preview.returncode == 1
    (shown,) = json.loads(preview.stdout)["dead_letters"]
    assert shown["action"] == "refund"
    assert "action" in shown["problem"] and "request_id" in shown["problem"]
    assert len(_tenant_dead_letters(world)) == 1


def test_audit_lists_an_invoices_decisions_oldest_first_with_qbo_ids(us_world: World) -> None:
    world = us_world
    invoice = world.open_invoice(world.onedesk.organization("Audit E2E"), [SUPPORT])
    world.command(invoice["id"])
    wait_for(lambda: _qbo_reference(world, invoice["id"]), what="invoice copied")
    world.command(invoice["id"])  # nothing changed: recorded as unchanged

    def history() -> list[dict[str, Any]] | None:
        records: list[dict[str, Any]] = cli_json(
            world.stack, "audit", invoice["id"], "--tenant", world.tenant.tenant_id
        )
        return records if any(r["outcome"] == "unchanged" for r in records) else None

    records = wait_for(history, what="both copies audited")
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)
    assert {r["invoice_id"] for r in records} == {invoice["id"]}
    (created,) = [r for r in records if r["action"] == "copy" and r["outcome"] == "done"]
    assert created["intuit_tid"] and created["request_id"] and created["qbo_invoice_id"]
    assert records.index(created) < next(i for i, r in enumerate(records) if r["outcome"] == "unchanged")
    table = cli(world.stack, "audit", invoice["id"], "--tenant", world.tenant.tenant_id)
    assert created["intuit_tid"] in table.stdout and created["request_id"] in table.stdout


def test_preview_lists_the_exact_payloads_and_requests_and_writes_nothing(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Preview E2E", contact="Pat Payer", email="pat@preview.test")
    invoice = world.open_invoice(org, [SUPPORT])
    before = world.qbo.last_seq()
    entities = {name: len(world.qbo.entities(name)) for name in ("Customer", "Item", "Invoice")}

    preview = cli_json(world.stack, "preview", invoice["id"], "--tenant", world.tenant.tenant_id, "--send")

    assert preview["outcome"] == "done"
    writes = [r for r in preview["qbo_requests"] if r["write"]]
    # The new customer and product/service in one batch, then the invoice.
    assert [(w["operation"], w["entity"]) for w in writes] == [("batch", "Batch"), ("create", "Invoice")]
    assert [e.get("DisplayName") or e.get("Name") for e in writes[0]["payload"]] == ["Preview E2E", "Support"]
    assert all(w["request_id"] for w in writes)
    planned = writes[-1]["payload"]
    assert planned["PrivateNote"].endswith(f"[onedesk:{invoice['id']}]")
    assert [(line["Description"], line["Amount"]) for line in planned["Line"]] == [
        ("Fix login page", "180.00")
    ]
    assert [d["send_to"] for d in preview["deliveries"]] == ["pat@preview.test"]
    # Reads went to QBO (the customer lookup); nothing was written anywhere.
    sent = world.qbo.data_requests(before)
    assert sent and all(r["method"] == "GET" or r["path"].endswith("/query") for r in sent)
    assert {name: len(world.qbo.entities(name)) for name in entities} == entities
    assert _qbo_reference(world, invoice["id"]) is None
    assert world.onedesk.record(invoice["id"])["syncMessage"] is None

    # The real copy then sends what the preview showed.
    world.command(invoice["id"])
    reference = wait_for(lambda: _qbo_reference(world, invoice["id"]), what="invoice copied")
    copied = world.qbo.entity("Invoice", reference["invoiceId"])
    sales = [line for line in copied["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [(line["Description"], str(line["Amount"])) for line in sales] == [("Fix login page", "180.00")]
    table = cli(world.stack, "preview", invoice["id"], "--tenant", world.tenant.tenant_id)
    assert table.returncode == 0, table.stderr
    assert "read" in table.stdout and "Invoice" in table.stdout
