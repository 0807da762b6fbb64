"""[robust] Never stall, on the whole local stack: a permanent failure never holds its FIFO group, and a
QBO failure storm is followed by progress soon after it ends.

The time bounds are the acceptance bounds, waited for with ``wait_for`` (a failure is a stall of many
minutes, not a slow machine); the figures themselves are measured by ``make bench`` (bench/storm.py).
"""

from __future__ import annotations

import re
from typing import Any

from local.storm import faults_left, start_storm
from qbo_sync import wiring
from qbo_sync.domain.commands import command_group_id
from qbo_sync.domain.invoice_mapping import marker
from tests.e2e.conftest import SUPPORT, World, queue_depth, wait_for


def _copied(world: World, invoices: list[dict[str, Any]]) -> bool:
    return all(world.onedesk.record(i["id"])["externalReferences"].get("qbo") for i in invoices)


def _shares_group(world: World, invoice_id: str, other_id: str) -> bool:
    shards = wiring.settings().command_shards
    tenant = world.tenant.tenant_id
    return command_group_id(tenant, invoice_id, shards) == command_group_id(tenant, other_id, shards)


def test_a_command_for_an_invoice_deleted_in_onedesk_never_holds_the_tenants_copies(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Deleted Meanwhile E2E")
    doomed = world.open_invoice(org, [SUPPORT])
    world.onedesk.delete(doomed["id"])  # someone clicks Copy, then deletes the invoice
    # 20 real copies, at least 5 of them queued behind the deleted one in its FIFO group.
    same_group: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    while len(same_group) < 5 or len(same_group) + len(others) < 20:
        invoice = world.open_invoice(org, [SUPPORT])
        (same_group if _shares_group(world, doomed["id"], invoice["id"]) else others).append(invoice)
    copies = same_group[:5] + others[: 20 - 5]
    dlq_before = queue_depth(world.stack, "InvoiceCommandsDLQ")

    world.command(doomed["id"])
    for invoice in copies:
        world.command(invoice["id"])

    wait_for(lambda: _copied(world, copies), timeout=60, what="20 copies behind the deleted invoice")
    failed = [
        record
        for record in wiring.audit_log().recent(world.tenant.tenant_id, limit=200)
        if record.invoice_id == doomed["id"]
    ]
    assert [(record.action, record.outcome.value) for record in failed] == [("copy", "failed")]
    assert failed[0].reason is not None and "no longer exists in OneDesk" in failed[0].reason
    reads = [
        entry
        for entry in world.onedesk.requests_log()
        if entry["method"] == "GET" and entry["path"].endswith(f"/invoices/{doomed['id']}")
    ]
    assert [entry["status"] for entry in reads] == [404]  # asked once, never retried
    wait_for(lambda: queue_depth(world.stack, "InvoiceCommandsQueue") == 0, what="commands consumed")
    assert queue_depth(world.stack, "InvoiceCommandsDLQ") == dlq_before


def test_a_qbo_storm_ends_with_every_invoice_copied_once_soon_after(us_world: World) -> None:
    world = us_world
    org = world.onedesk.organization("Stormy Weather E2E")
    invoices = [world.open_invoice(org, [SUPPORT]) for _ in range(50)]
    dlq_before = queue_depth(world.stack, "InvoiceCommandsDLQ")
    before = world.qbo.last_seq()
    start_storm(world.qbo)

    for invoice in invoices:
        world.command(invoice["id"])

    wait_for(lambda: faults_left(world.qbo) == 0, timeout=120, what="every storm fault consumed")
    wait_for(lambda: _copied(world, invoices), timeout=120, what="50 invoices copied after the storm")

    failures = [
        (entry["status"], entry["method"], entry["path"])
        for entry in world.qbo.data_requests(before)
        if entry["status"] != 200
    ]
    assert sum(1 for status, _, _ in failures if status == 429) >= 40
    assert sum(1 for status, _, _ in failures if status == 500) >= 15
    lost_writes = [f for f in failures if f[0] == 503 and f[1] == "POST" and re.search(r"/invoice$", f[2])]
    assert lost_writes  # some creates were performed by QBO and their answers lost
    customer_id = world.qbo.named("Customer", "DisplayName", "Stormy Weather E2E")[0]["Id"]
    created = [i for i in world.qbo.entities("Invoice") if i["CustomerRef"]["value"] == customer_id]
    assert len(created) == 50  # 0 duplicates
    linked = {world.onedesk.record(i["id"])["externalReferences"]["qbo"]["invoiceId"] for i in invoices}
    assert linked == {i["Id"] for i in created}
    for invoice in invoices:  # each OneDesk invoice is in exactly one QBO invoice's private note
        assert sum(marker(invoice["id"]) in (c.get("PrivateNote") or "") for c in created) == 1
    wait_for(lambda: queue_depth(world.stack, "InvoiceCommandsQueue") == 0, what="commands consumed")
    assert queue_depth(world.stack, "InvoiceCommandsDLQ") == dlq_before
