"""preview: the copy's own logic on dry-run ports lists the requests and payloads, and writes nothing."""

from __future__ import annotations

from datetime import timedelta

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import ConnectionStatus
from qbo_sync.domain.invoice_mapping import plan_invoice
from qbo_sync.domain.onedesk import Plan
from qbo_sync.domain.request_ids import request_id
from qbo_sync.domain.taxes import choose_tax
from qbo_sync.usecases.invoice_commands import CommandPorts
from qbo_sync.usecases.preview import preview_copy, preview_invoice_command
from tests.unit.builders import (
    AT,
    REALM,
    TENANT,
    US_CATALOG,
    make_invoice,
    settings,
    tenant,
    time_line,
    us_company,
)
from tests.unit.fakes import (
    FakeConnectionStore,
    FakeDeliveryQueue,
    FakeParkedWork,
    FakeTenantStore,
)
from tests.unit.test_copy_invoice import Harness
from tests.unit.test_invoice_commands import connection


def command(
    source: str = "api", action: InvoiceAction = InvoiceAction.COPY, **fields: object
) -> InvoiceCommand:
    return InvoiceCommand.model_validate(
        {
            "tenant_id": TENANT,
            "invoice_id": "1003",
            "action": action,
            "request_id": "preview",
            "requested_at": AT,
            "source": source,
            **fields,
        }
    )


def test_a_first_copy_lists_reads_then_writes_with_their_request_ids_and_writes_nothing() -> None:
    h = Harness()
    invoice = make_invoice()
    h.onedesk.invoices[invoice.id] = invoice

    preview = preview_copy(command(), h.ctx, h.ports)

    assert [(r.method, r.operation, r.entity, r.write) for r in preview.qbo_requests] == [
        ("POST", "query", "Customer", False),
        ("POST", "query", "Item", False),
        ("POST", "batch", "Batch", True),
        ("POST", "create", "Invoice", True),
    ]
    create = preview.qbo_requests[-1]
    assert create.request_id == request_id(TENANT, REALM, "1003", "create", 0)
    assert isinstance(create.payload, dict)
    assert create.payload["PrivateNote"] == "Copied from OneDesk invoice INV-0001 [onedesk:1003]"
    assert preview.result is not None and preview.result.outcome is Outcome.DONE
    # Nothing happened anywhere.
    assert h.qbo.rows(qbo.Invoice) == [] and h.qbo.rows(qbo.Customer) == []
    assert h.mappings.links == {} and h.mappings.customers == {}
    assert h.onedesk.writes == 0
    assert h.audit.records == []
    # ...but what would have happened is listed.
    assert [name for name, _ in preview.store_writes] == [
        "link_customer",
        "link_items",
        "begin_create",
        "save_link",  # done
        "save_link",  # OneDesk told
    ]
    assert [name for name, _ in preview.onedesk_writes] == ["set_qbo_reference", "set_sync_message"]
    assert [r.action for r in preview.audit] == ["create-customer", "create-items", "copy"]


def test_a_changed_recopy_previews_one_update_with_the_stored_sync_token_and_its_exact_payload() -> None:
    h = Harness()
    h.copy(make_invoice())
    [created] = h.qbo.rows(qbo.Invoice)
    link = h.link()
    h.forget_calls()
    edited = make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1))
    h.onedesk.invoices[edited.id] = edited

    preview = preview_copy(command(), h.ctx, h.ports)

    [update] = preview.qbo_requests
    assert (update.operation, update.entity_id, update.write) == ("update", created.Id, True)
    customer_id, item_id = link.customer_id, h.mappings.item_ids(TENANT, REALM, ["Support"])["Support"]
    tax = choose_tax(edited, us_company().tax_mode, settings().tax, US_CATALOG)
    body = plan_invoice(edited, us_company(), tax, customer_id, {"Support": item_id}).body.payload()
    assert update.payload == {**body, "Id": created.Id, "SyncToken": "0", "sparse": True}
    assert h.qbo.calls == {}  # not even the update reached QBO
    assert h.qbo.get(qbo.Invoice, str(created.Id)) == created
    assert h.link() == link


def test_a_send_previews_the_delivery_without_queueing_it() -> None:
    h = Harness()
    h.onedesk.invoices["1003"] = make_invoice()

    preview = preview_copy(command(action=InvoiceAction.SEND), h.ctx, h.ports)

    assert [d.send_to for d in preview.deliveries] == ["ap@globex.test"]
    assert h.deliveries.deliveries == []


def command_ports(
    h: Harness, conn_status: ConnectionStatus | None, plan: Plan = Plan.PREMIUM
) -> CommandPorts:
    tenants = FakeTenantStore(tenant())
    tenants.save_settings(TENANT, settings())
    return CommandPorts(
        tenants=tenants,
        connections=FakeConnectionStore(*([connection(conn_status)] if conn_status else [])),  # type: ignore[arg-type]
        parked=FakeParkedWork(),
        mappings=h.mappings,
        audit=h.audit,
        deliveries=FakeDeliveryQueue(),
        onedesk_for=lambda _: h.onedesk,
        qbo_for=lambda _tenant, _realm: h.qbo,
        plan_of=lambda _: plan,
        clock=h.clock,
    )


def test_the_command_preview_says_why_it_would_not_run() -> None:
    h = Harness()
    h.onedesk.invoices["1003"] = make_invoice()

    blocked = preview_invoice_command(command(), command_ports(h, ConnectionStatus.DISCONNECTED))
    refused = preview_invoice_command(command(), command_ports(h, ConnectionStatus.CONNECTED, Plan.GROWTH))
    runs = preview_invoice_command(command(), command_ports(h, ConnectionStatus.CONNECTED))

    assert (blocked.result, blocked.blocked) == (
        None,
        "QuickBooks Online needs to be reconnected (it was disconnected)",
    )
    assert refused.result is None and refused.refused is not None and "Growth" in refused.refused
    assert runs.result is not None and len(runs.qbo_writes) == 2
    assert h.onedesk.writes == 0 and h.audit.records == [] and h.qbo.rows(qbo.Invoice) == []
