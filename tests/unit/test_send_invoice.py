"""send_invoice: QBO emails the invoice at most once per send request (docs/product.md P9, invariant 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import DeliveryCommand, InvoiceAction
from qbo_sync.domain.onedesk import SENT_VIA_QBO_TAG, SyncMessage, Tag
from qbo_sync.domain.request_ids import request_id
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskNotFound
from qbo_sync.ports.qbo import QboNotFound, QboValidationError
from qbo_sync.ports.tokens import NeedsReconnect
from qbo_sync.usecases.send_invoice import (
    CLOCK_TOLERANCE,
    DeliveryPorts,
    Parked,
    SendPorts,
    SendResult,
    handle_delivery,
    send_invoice,
)
from tests.unit.builders import AT, REALM, TENANT, tenant
from tests.unit.fakes import (
    FakeAuditLog,
    FakeConnectionStore,
    FakeOneDesk,
    FakeParkedWork,
    FakeQbo,
    FakeTenantStore,
    FixedClock,
)
from tests.unit.test_invoice_commands import connection

REQUESTED = AT + timedelta(minutes=1)


class Harness:
    def __init__(self) -> None:
        self.clock = FixedClock(REQUESTED + timedelta(seconds=5))
        self.qbo = FakeQbo(REALM, self.clock)
        self.onedesk = FakeOneDesk()
        self.audit = FakeAuditLog()
        self.ports = SendPorts(onedesk=self.onedesk, qbo=self.qbo, audit=self.audit, clock=self.clock)
        created = self.qbo.add(qbo.Invoice(CustomerRef=qbo.Ref(value="1"), Line=[]))
        self.delivery = DeliveryCommand(
            tenant_id=TENANT,
            realm_id=REALM,
            invoice_id="1003",
            invoice_number="INV-0001",
            qbo_invoice_id=str(created.Id),
            send_to="ap@globex.test",
            request_id="req-42",
            requested_at=REQUESTED,
        )
        self.qbo_id = str(created.Id)

    def send(self, *, outcome_unknown: bool = False) -> SendResult:
        return send_invoice(self.delivery, self.ports, outcome_unknown=outcome_unknown)


def test_send_emails_once_and_tells_onedesk() -> None:
    h = Harness()

    result = h.send()

    assert h.qbo.calls == {"send_invoice": 1}
    assert h.qbo.emails == [(h.qbo_id, "ap@globex.test", request_id(TENANT, "1003", "send", "req-42"))]
    assert result == SendResult(Outcome.DONE, intuit_tid="tid-1")
    now = h.clock()
    assert h.onedesk.tags["1003"] == [Tag(name=SENT_VIA_QBO_TAG, at=now, detail="ap@globex.test")]
    assert h.onedesk.messages["1003"] == [
        SyncMessage(level="info", text="Sent by QuickBooks Online to ap@globex.test.", at=now)
    ]
    [record] = h.audit.records
    assert (record.action, record.outcome, record.request_id, record.qbo_invoice_id) == (
        "send",
        Outcome.DONE,
        "req-42",
        h.qbo_id,
    )


def test_redelivery_after_qbo_already_emailed_does_not_send_again() -> None:
    h = Harness()
    h.send()  # QBO emailed it; say the Lambda died before its idempotency record was saved
    h.qbo.reset_calls()
    h.clock.advance(timedelta(minutes=3))

    result = h.send(outcome_unknown=True)

    assert h.qbo.calls == {"read": 1}
    assert len(h.qbo.emails) == 1
    assert result == SendResult(Outcome.UNCHANGED, "already sent")
    assert h.audit.records[-1].outcome is Outcome.UNCHANGED
    assert (
        h.audit.records[-1].reason
        == f"QBO had already emailed it at {(REQUESTED + timedelta(seconds=5)).isoformat()}"
    )


def test_outcome_unknown_but_not_emailed_yet_sends() -> None:
    h = Harness()

    result = h.send(outcome_unknown=True)

    assert h.qbo.calls == {"read": 1, "send_invoice": 1}
    assert result.outcome is Outcome.DONE


def test_outcome_unknown_with_an_email_from_an_earlier_request_sends_again() -> None:
    h = Harness()
    h.clock.now = REQUESTED - timedelta(days=1)
    h.send()  # yesterday's send request
    h.clock.now = REQUESTED + timedelta(seconds=5)

    result = h.send(outcome_unknown=True)

    assert result.outcome is Outcome.DONE
    assert len(h.qbo.emails) == 2


def test_email_within_the_clock_tolerance_before_the_request_counts_as_sent() -> None:
    h = Harness()
    h.clock.now = REQUESTED - CLOCK_TOLERANCE  # QBO's clock runs a little behind ours
    h.send()

    assert h.send(outcome_unknown=True).outcome is Outcome.UNCHANGED
    assert len(h.qbo.emails) == 1


def test_email_older_than_the_clock_tolerance_is_another_request_and_sends_again() -> None:
    h = Harness()
    h.clock.now = REQUESTED - CLOCK_TOLERANCE - timedelta(seconds=1)
    h.send()

    assert h.send(outcome_unknown=True).outcome is Outcome.DONE
    assert len(h.qbo.emails) == 2


def test_already_sent_on_redelivery_still_tells_onedesk() -> None:
    h = Harness()
    h.send()
    h.onedesk.tags.clear()
    h.onedesk.messages.clear()

    assert h.send(outcome_unknown=True).outcome is Outcome.UNCHANGED
    assert [tag.name for tag in h.onedesk.tags["1003"]] == [SENT_VIA_QBO_TAG]
    assert h.onedesk.messages["1003"][-1].text == "Sent by QuickBooks Online to ap@globex.test."


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            QboValidationError(
                status=400, code="6000", message="Business Validation Error", detail="Invalid email"
            ),
            "Invalid email",
        ),
        (
            QboNotFound(status=400, code="610", message="Object Not Found", intuit_tid="tid-x"),
            "Object Not Found",
        ),
    ],
)
def test_refusal_is_shown_in_onedesk_and_audited_without_raising(error: Exception, shown: str) -> None:
    h = Harness()
    h.qbo.fail_next("send_invoice", error)

    result = h.send()

    reason = f"Not sent by QuickBooks Online: {shown}"
    assert (result.outcome, result.reason) == (Outcome.REFUSED, reason)
    assert h.onedesk.messages["1003"] == [SyncMessage(level="error", text=reason, at=h.clock())]
    assert "1003" not in h.onedesk.tags
    [record] = h.audit.records
    assert (record.outcome, record.reason) == (Outcome.REFUSED, reason)
    assert h.qbo.emails == []


def test_needs_reconnect_parks_the_send_and_raises_parked() -> None:
    h = Harness()
    parked = FakeParkedWork()
    h.qbo.fail_next("send_invoice", NeedsReconnect(TENANT, REALM, "invalid_grant"))
    ports = DeliveryPorts(
        tenants=FakeTenantStore(tenant()),
        connections=FakeConnectionStore(connection()),
        parked=parked,
        audit=h.audit,
        onedesk_for=lambda _: h.onedesk,
        qbo_for=lambda _tenant, _realm: h.qbo,
        clock=h.clock,
    )

    with pytest.raises(Parked):
        handle_delivery(h.delivery, ports, outcome_unknown=False)

    [command] = parked.parked(TENANT)
    assert (command.action, command.request_id, command.source) == (InvoiceAction.SEND, "req-42", "parked")
    assert parked.reasons() == ["QuickBooks Online needs to be reconnected (invalid_grant)"]
    assert h.audit.records[-1].outcome is Outcome.PARKED


def test_a_send_queued_before_the_admin_switched_companies_is_refused_for_good() -> None:
    h = Harness()
    switched = connection().model_copy(update={"realm_id": "another-company"})
    ports = DeliveryPorts(
        tenants=FakeTenantStore(tenant()),
        connections=FakeConnectionStore(switched),
        parked=FakeParkedWork(),
        audit=h.audit,
        onedesk_for=lambda _: h.onedesk,
        qbo_for=lambda _tenant, _realm: h.qbo,
        clock=h.clock,
    )

    result = handle_delivery(h.delivery, ports, outcome_unknown=False)

    assert result.outcome is Outcome.REFUSED
    assert result.reason is not None and "switched to another company" in result.reason
    assert h.qbo.emails == []
    assert h.onedesk.messages["1003"][-1].level == "error"
    assert h.audit.records[-1].outcome is Outcome.REFUSED


@pytest.mark.parametrize(
    "refusal",
    [
        OneDeskNotFound("OneDesk POST invoices/1003/tags answered HTTP 404: NOT_FOUND"),
        OneDeskAuthError("OneDesk POST invoices/1003/tags answered HTTP 401: UNAUTHORIZED"),
    ],
)
def test_onedesk_refusing_the_write_back_after_qbo_emailed_is_recorded_not_retried(
    refusal: Exception,
) -> None:
    h = Harness()
    h.onedesk.fail_next_write = refusal

    result = h.send()

    assert result.outcome is Outcome.DONE
    assert len(h.qbo.emails) == 1
    [record] = h.audit.records
    assert record.outcome is Outcome.DONE
    assert record.reason == f"emailed to ap@globex.test; OneDesk could not be told ({refusal})"


def test_onedesk_refusing_the_refusal_message_still_records_the_refusal() -> None:
    h = Harness()
    h.qbo.fail_next("send_invoice", QboValidationError(status=400, code="6000", message="Invalid email"))
    h.onedesk.fail_next_write = OneDeskNotFound("OneDesk PUT invoices/1003/syncMessage answered HTTP 404")

    result = h.send()

    assert result.outcome is Outcome.REFUSED
    [record] = h.audit.records
    assert record.outcome is Outcome.REFUSED
    assert record.reason is not None and record.reason.endswith(
        "OneDesk could not be told (OneDesk PUT invoices/1003/syncMessage answered HTTP 404)"
    )
