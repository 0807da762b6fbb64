"""The admin's decisions on single invoices (conflicts, sends that waited) and resuming parked work."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import ConnectionStatus
from qbo_sync.usecases.admin_decisions import decide_conflict, decide_parked_send
from qbo_sync.usecases.connect import ConnectPorts, Refused, resume_parked
from tests.unit.builders import AT, REALM, TENANT, make_invoice, settings, tenant, time_line
from tests.unit.fakes import FakeCommandQueue, FakeConnectionStore, FakeParkedWork, FakeTenantStore
from tests.unit.test_copy_invoice import Harness
from tests.unit.test_invoice_commands import connection
from tests.unit.test_invoice_lifecycle import bookkeeper_changes_the_amount, copied

LATER = AT + timedelta(hours=1)
EDITED = make_invoice(time_line(hours="2", amount="240.00"), modified_at=LATER)


class Admin:
    """The settings page's ports around a copy harness (same store, OneDesk and QBO)."""

    def __init__(self, h: Harness, status: ConnectionStatus = ConnectionStatus.CONNECTED) -> None:
        self.h = h
        self.commands = FakeCommandQueue()
        self.parked = FakeParkedWork()
        tenants = FakeTenantStore(tenant())
        tenants.save_settings(TENANT, settings())
        self.ports = ConnectPorts(
            tenants=tenants,
            connections=FakeConnectionStore(connection(status)),  # type: ignore[arg-type]
            parked=self.parked,
            mappings=h.mappings,
            audit=h.audit,
            commands=self.commands,
            states=None,  # type: ignore[arg-type]  # not used by these decisions
            pending=None,  # type: ignore[arg-type]
            oauth=None,  # type: ignore[arg-type]
            onedesk_for=lambda _: h.onedesk,
            qbo_for=lambda _tenant, _realm: h.qbo,
            clock=h.clock,
        )


def in_conflict() -> tuple[Harness, qbo.Invoice]:
    h = Harness()
    first = copied(h)
    theirs = bookkeeper_changes_the_amount(h, first)
    assert h.copy(EDITED).outcome is Outcome.CONFLICT
    h.forget_calls()
    return h, theirs


def test_overwrite_copies_onedesks_version_over_qbos_in_one_update() -> None:
    h, theirs = in_conflict()
    admin = Admin(h)

    decide_conflict(tenant(), "1003", "overwrite", admin.ports)

    assert h.mappings.conflicts(TENANT, REALM) == []
    [queued] = admin.commands.commands
    assert (queued.action, queued.source, queued.snapshot) == (InvoiceAction.COPY, "api", None)
    h.onedesk.invoices["1003"] = EDITED
    result = h.copy(EDITED, source="api")  # the queued command, as the worker runs it
    assert result.outcome is Outcome.DONE
    assert h.qbo.calls == {"sparse_update": 1}
    assert h.qbo.updates[-1].sync_token == theirs.SyncToken
    now = h.qbo.get(qbo.Invoice, str(theirs.Id))
    assert now.TotalAmt == Decimal("240.00") == EDITED.total


def test_keep_leaves_qbo_alone_and_the_same_onedesk_content_never_raises_it_again() -> None:
    h, theirs = in_conflict()
    admin = Admin(h)

    decide_conflict(tenant(), "1003", "keep", admin.ports)

    message = h.onedesk.last_message("1003")
    assert message.text.startswith(
        f"The version of this invoice edited in QuickBooks Online (invoice {theirs.DocNumber}, total 200.00) "
        "was kept by an admin. A later change in OneDesk is copied over it."
    )
    assert "QuickBooks Online totals invoice INV-0001 at 200.00, OneDesk at 240.00" in message.text
    assert h.mappings.conflicts(TENANT, REALM) == []
    h.forget_calls()
    assert h.copy(h.as_onedesk_shows(EDITED)).outcome is Outcome.DONE  # the poller: nothing to do
    assert h.qbo.total_calls == 0
    h.copy(EDITED, source="api")  # explicit: one read, QBO's kept version is the known one
    assert h.qbo.calls == {"read": 1}
    assert h.mappings.conflicts(TENANT, REALM) == []
    assert h.qbo.get(qbo.Invoice, str(theirs.Id)) == theirs


def test_after_keep_a_later_onedesk_change_is_copied_over_the_kept_version() -> None:
    h, theirs = in_conflict()
    decide_conflict(tenant(), "1003", "keep", Admin(h).ports)
    h.forget_calls()
    newer = make_invoice(time_line(hours="3", amount="360.00"), modified_at=LATER + timedelta(hours=1))

    result = h.copy(newer)

    assert result.outcome is Outcome.DONE
    assert h.qbo.calls == {"sparse_update": 1}
    assert h.qbo.get(qbo.Invoice, str(theirs.Id)).TotalAmt == Decimal("360.00")


def test_after_keep_another_edit_in_qbo_is_a_new_conflict() -> None:
    h, theirs = in_conflict()
    decide_conflict(tenant(), "1003", "keep", Admin(h).ports)
    h.qbo.bookkeeper_edits(str(theirs.Id), DueDate="2026-12-24")

    result = h.copy(
        make_invoice(time_line(hours="3", amount="360.00"), modified_at=LATER + timedelta(hours=1))
    )

    assert result.outcome is Outcome.CONFLICT
    [conflict] = h.mappings.conflicts(TENANT, REALM)
    assert "dates" in conflict.differences


def test_deciding_twice_is_refused_calmly() -> None:
    h, _ = in_conflict()
    admin = Admin(h)
    decide_conflict(tenant(), "1003", "keep", admin.ports)

    with pytest.raises(Refused) as refused:
        decide_conflict(tenant(), "1003", "overwrite", admin.ports)

    assert refused.value.status == 409
    assert admin.commands.commands == []


# ------------------------------------------------------------------------------------------ sends that waited


def waiting_send(admin: Admin) -> InvoiceCommand:
    command = InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="1003",
        action=InvoiceAction.SEND,
        request_id="req-send",
        requested_at=AT,
        source="api",
    )
    admin.parked.park(command, "QuickBooks Online needs to be reconnected (it was disconnected)")
    return command


def test_resuming_parked_work_copies_sends_but_keeps_them_waiting_for_confirmation() -> None:
    admin = Admin(Harness())
    send = waiting_send(admin)
    copy = send.model_copy(update={"invoice_id": "1004", "action": InvoiceAction.COPY})
    admin.parked.park(copy, "not connected")

    assert resume_parked(TENANT, admin.ports) == 2

    assert {(c.invoice_id, c.action, c.source) for c in admin.commands.commands} == {
        ("1003", InvoiceAction.COPY, "parked"),
        ("1004", InvoiceAction.COPY, "parked"),
    }
    assert admin.parked.parked(TENANT) == [send]


def test_confirming_a_send_queues_it_once() -> None:
    admin = Admin(Harness())
    send = waiting_send(admin)

    decide_parked_send(tenant(), "1003", "send", admin.ports)

    [queued] = admin.commands.commands
    assert (queued.action, queued.request_id, queued.source) == (
        InvoiceAction.SEND,
        send.request_id,
        "parked",
    )
    assert admin.parked.parked(TENANT) == []
    with pytest.raises(Refused):
        decide_parked_send(tenant(), "1003", "send", admin.ports)


def test_a_send_cannot_be_confirmed_while_still_disconnected() -> None:
    admin = Admin(Harness(), ConnectionStatus.DISCONNECTED)
    waiting_send(admin)

    with pytest.raises(Refused) as refused:
        decide_parked_send(tenant(), "1003", "send", admin.ports)

    assert refused.value.status == 409
    assert admin.commands.commands == []
    assert len(admin.parked.parked(TENANT)) == 1


def test_not_sending_drops_it_says_so_and_stops_automatic_sends_of_it() -> None:
    h = Harness()
    copied(h)
    admin = Admin(h)
    waiting_send(admin)

    decide_parked_send(tenant(), "1003", "drop", admin.ports)

    assert admin.parked.parked(TENANT) == []
    assert admin.commands.commands == []
    assert h.onedesk.last_message("1003").text == (
        'Not sent by QuickBooks Online: an admin chose not to email it after it had waited. Use "Send '
        'invoice" to email it.'
    )
    # The Sent invoice comes back through the poller (our message changed it): still not emailed...
    h.copy(h.as_onedesk_shows(make_invoice(modified_at=LATER)), InvoiceAction.SEND, request="auto-send:1003")
    assert h.deliveries.deliveries == []
    # ...until someone deliberately clicks "Send invoice".
    h.copy(make_invoice(modified_at=LATER), InvoiceAction.SEND, request="click", source="api")
    assert [d.request_id for d in h.deliveries.deliveries] == ["click"]
