"""sync_payments learns that a copied QBO invoice was deleted or voided, so the next copy recreates it
without a doomed update first (and no extra QBO request is spent to learn it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qbo_sync.domain import qbo
from qbo_sync.domain.commands import QboChange
from qbo_sync.domain.connection import ConnectionStatus
from qbo_sync.domain.invoice_state import echoes_our_write
from qbo_sync.ports.store import QboGone
from qbo_sync.usecases.payments import ChangePorts, apply_qbo_change
from tests.unit.builders import AT, REALM, make_invoice, tenant, time_line
from tests.unit.fakes import FakeConnectionStore, FakeTenantStore
from tests.unit.test_copy_invoice import Harness
from tests.unit.test_invoice_commands import connection
from tests.unit.test_invoice_lifecycle import copied


def apply(h: Harness, qbo_invoice_id: str, operation: str, occurred_at: datetime | None = None) -> None:
    ports = ChangePorts(
        connections=FakeConnectionStore(connection(ConnectionStatus.CONNECTED)),  # type: ignore[arg-type]
        tenants=FakeTenantStore(tenant()),
        mappings=h.mappings,
        audit=h.audit,
        onedesk_for=lambda _: h.onedesk,
        qbo_for=lambda _tenant, _realm: h.qbo,
        clock=h.clock,
    )
    change = QboChange(
        realm_id=REALM,
        entity="Invoice",
        entity_id=qbo_invoice_id,
        operation=operation,
        event_id=operation,
        occurred_at=occurred_at,
    )
    apply_qbo_change(change, ports)


def test_a_deleted_invoice_marks_its_link_and_onedesk_is_told_to_copy_again() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))

    apply(h, str(first.Id), "delete")

    link = h.link()
    assert (link.qbo_gone, link.reported_hash) == (QboGone.DELETED, None)
    assert h.qbo.calls == {"read": 1}
    assert "copy it again to recreate it" in h.onedesk.last_message("1003").text


def test_a_voided_invoice_marks_its_link_voided() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))

    apply(h, str(first.Id), "void")

    assert h.link().qbo_gone is QboGone.VOIDED
    assert "copy it again to create a new invoice" in h.onedesk.last_message("1003").text


def test_a_late_event_about_an_invoice_already_replaced_changes_nothing() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.copy(make_invoice(modified_at=AT + timedelta(hours=1)), source="api")  # recreated: generation 1
    replaced = h.link()

    h.mappings.mark_qbo_invoice_gone(
        replaced.model_copy(update={"qbo_invoice_id": first.Id}), QboGone.DELETED
    )

    assert h.link() == replaced


def test_qbo_announcing_our_own_update_is_taken_once_without_reading_qbo() -> None:
    h = Harness()
    copied(h)
    h.copy(make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1)))
    link = h.link()
    written = link.echo_expected_at  # the time the fake QBO stamped on our update
    assert written is not None
    h.forget_calls()

    apply(h, str(link.qbo_invoice_id), "updated", occurred_at=written + timedelta(microseconds=250))

    assert h.qbo.calls == {}  # our own update: not read back
    assert h.link().echo_expected_at is None

    # The same second again (a bookkeeper's edit right after ours, or the event delivered twice): read.
    apply(h, str(link.qbo_invoice_id), "updated", occurred_at=written)
    assert h.qbo.calls == {"read": 1}


def test_an_invoice_event_at_another_time_is_read() -> None:
    h = Harness()
    copied(h)
    h.copy(make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1)))
    h.forget_calls()
    written = h.link().echo_expected_at
    assert written is not None

    apply(h, str(h.link().qbo_invoice_id), "updated", occurred_at=written + timedelta(seconds=3))

    assert h.qbo.calls == {"read": 1}
    assert h.link().echo_expected_at == written


def test_echoes_are_matched_to_the_second_qbo_keeps_in_any_offset() -> None:
    ours = datetime(2026, 12, 5, 10, 0, 7, tzinfo=UTC)
    assert echoes_our_write(datetime.fromisoformat("2026-12-05T02:00:07.999-08:00"), ours)
    assert not echoes_our_write(datetime.fromisoformat("2026-12-05T10:00:08+00:00"), ours)
    assert not echoes_our_write(None, ours)
    assert not echoes_our_write(ours, None)
    assert not echoes_our_write(ours.replace(tzinfo=None), ours)  # no offset: never guessed
