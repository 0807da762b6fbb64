"""apply_qbo_change: an invoice deleted in OneDesk is a final outcome, recorded, and the others go on."""

from __future__ import annotations

from decimal import Decimal

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import QboChange
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskPort
from qbo_sync.ports.qbo import QboPort
from qbo_sync.ports.store import InvoiceLink, LinkState
from qbo_sync.usecases.payments import ChangePorts, apply_qbo_change
from tests.unit.builders import AT, REALM, TENANT, make_invoice, tenant
from tests.unit.fakes import FakeAuditLog, FakeMappingStore, FakeOneDesk, FakeQbo, FakeTenantStore, FixedClock


class _Connections:
    def tenant_for_realm(self, realm_id: str) -> str | None:
        return TENANT if realm_id == REALM else None


def _link(invoice_id: str, qbo_invoice_id: str) -> InvoiceLink:
    return InvoiceLink(
        tenant_id=TENANT,
        realm_id=REALM,
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        state=LinkState.DONE,
        create_request_id=f"create-{invoice_id}",
        customer_id="1",
        qbo_invoice_id=qbo_invoice_id,
        unpaid_status=InvoiceStatus.OPEN,
    )


def test_a_payment_for_an_invoice_deleted_in_onedesk_is_recorded_and_the_others_are_written() -> None:
    clock = FixedClock(AT)
    fake_qbo = FakeQbo(REALM, clock)
    kept = make_invoice(invoice_id="kept")
    onedesk = FakeOneDesk(kept)  # "gone" was deleted in OneDesk after it was copied
    mappings = FakeMappingStore()
    audit = FakeAuditLog()
    payment_lines = []
    for invoice_id in ("gone", "kept"):
        created = fake_qbo.add(
            qbo.Invoice(CustomerRef=qbo.Ref(value="1"), Line=[], TotalAmt=kept.total, Balance=Decimal("0.00"))
        )
        mappings.save_link(_link(invoice_id, str(created.Id)))
        payment_lines.append(
            qbo.PaymentLine(
                Amount=kept.total, LinkedTxn=[qbo.LinkedTxn(TxnId=str(created.Id), TxnType="Invoice")]
            )
        )
    payment = fake_qbo.add(
        qbo.Payment(CustomerRef=qbo.Ref(value="1"), TotalAmt=kept.total, Line=payment_lines)
    )

    def onedesk_for(for_tenant: Tenant) -> OneDeskPort:
        return onedesk

    def qbo_for(tenant_id: str, realm_id: str) -> QboPort:
        return fake_qbo

    ports = ChangePorts(
        connections=_Connections(),  # type: ignore[arg-type]  # only what the use case calls
        tenants=FakeTenantStore(tenant()),
        mappings=mappings,
        audit=audit,
        onedesk_for=onedesk_for,
        qbo_for=qbo_for,
        clock=clock,
    )

    result = apply_qbo_change(
        QboChange(
            realm_id=REALM, entity="Payment", entity_id=str(payment.Id), operation="update", event_id="e-1"
        ),
        ports,
    )

    assert result.invoices_updated == 1
    assert set(onedesk.payment_states) == {"kept"}
    gone = [record for record in audit.records if record.invoice_id == "gone"]
    assert [(record.action, record.outcome) for record in gone] == [("payment-sync", Outcome.WARNING)]
    assert gone[0].reason is not None and "no longer exists in OneDesk" in gone[0].reason
