"""handle_invoice_command: the tenant's connection and settings decide between copying and parking."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest

from qbo_sync.adapters.onedesk.plans import CachedAccountPlans
from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.onedesk import AccountProfile, Invoice, InvoiceStatus, Plan, SyncMessage
from qbo_sync.domain.tenant import Tenant, TenantSettings
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskPort
from qbo_sync.ports.qbo import QboAuthError, QboPort
from qbo_sync.ports.tokens import NeedsReconnect
from qbo_sync.usecases.copy_invoice import CopyResult
from qbo_sync.usecases.invoice_commands import (
    HELD_SEND,
    CommandPorts,
    UnknownTenant,
    handle_invoice_command,
)
from tests.unit.builders import AT, CA_CATALOG, CA_TAX, REALM, TENANT, make_invoice, settings, tenant
from tests.unit.fakes import (
    FakeAuditLog,
    FakeConnectionStore,
    FakeDeliveryQueue,
    FakeMappingStore,
    FakeOneDesk,
    FakeParkedWork,
    FakeQbo,
    FakeTenantStore,
    FixedClock,
)

NOW = AT + timedelta(minutes=1)


def connection(
    status: ConnectionStatus = ConnectionStatus.CONNECTED,
    reason: str | None = None,
    country: str | None = "US",
) -> Connection:
    return Connection(
        tenant_id=TENANT,
        realm_id=REALM,
        status=status,
        status_reason=reason,
        connected_at=AT - timedelta(days=3),
        company_name="Acme Books",
        country=country,
        home_currency="USD" if country == "US" else "CAD",
    )


class Harness:
    def __init__(self, conn: Connection | None, tenant_settings: TenantSettings | None = None) -> None:
        self.clock = FixedClock(NOW)
        self.tenants = FakeTenantStore(tenant())
        if tenant_settings is not None:
            self.tenants.save_settings(TENANT, tenant_settings)
        self.tenants.catalogs[(TENANT, REALM)] = CA_CATALOG  # stored by the settings page
        self.connections = FakeConnectionStore(*([conn] if conn else []))
        self.parked = FakeParkedWork()
        self.audit = FakeAuditLog()
        self.onedesk = FakeOneDesk()
        self.qbo = FakeQbo(REALM, self.clock)
        self.qbo_requested: list[tuple[str, str]] = []
        self.plan = Plan.PREMIUM
        self.deliveries = FakeDeliveryQueue()
        self.ports = CommandPorts(
            tenants=self.tenants,
            connections=self.connections,  # type: ignore[arg-type]  # only what the use case calls
            parked=self.parked,
            mappings=FakeMappingStore(),
            audit=self.audit,
            deliveries=self.deliveries,
            onedesk_for=self.onedesk_for,
            qbo_for=self.qbo_for,
            plan_of=lambda _: self.plan,
            clock=self.clock,
        )

    def onedesk_for(self, for_tenant: Tenant) -> OneDeskPort:
        assert for_tenant.tenant_id == TENANT
        return self.onedesk

    def qbo_for(self, tenant_id: str, realm_id: str) -> QboPort:
        self.qbo_requested.append((tenant_id, realm_id))
        return self.qbo

    def handle(
        self,
        tenant_id: str = TENANT,
        action: InvoiceAction = InvoiceAction.COPY,
        source: Literal["poller", "api", "parked"] = "poller",
        snapshot: Invoice | None = None,
    ) -> CopyResult:
        return handle_invoice_command(self.command(tenant_id, action, source, snapshot), self.ports)

    def command(
        self,
        tenant_id: str = TENANT,
        action: InvoiceAction = InvoiceAction.COPY,
        source: Literal["poller", "api", "parked"] = "poller",
        snapshot: Invoice | None = None,
    ) -> InvoiceCommand:
        return InvoiceCommand(
            tenant_id=tenant_id,
            invoice_id="1003",
            action=action,
            request_id=f"req-{source}",
            requested_at=NOW,
            source=source,
            snapshot=snapshot or (make_invoice(currency="CAD") if source != "api" else None),
        )


def assert_parked(h: Harness, reason: str) -> None:
    assert h.parked.count_parked(TENANT) == 1
    assert h.parked.reasons() == [reason]
    assert h.onedesk.messages["1003"] == [
        SyncMessage(
            level="warning",
            text=f"Waiting to copy to QuickBooks Online: {reason}. It will run as soon as the admin fixes it "
            "under Administration > Financials.",
            at=NOW,
        )
    ]
    [record] = h.audit.records
    assert (record.action, record.outcome, record.reason, record.invoice_number) == (
        "copy",
        Outcome.PARKED,
        reason,
        "INV-0001",
    )
    assert h.qbo.total_calls == 0
    assert h.connections.syncs == []


@pytest.mark.parametrize(
    ("conn", "reason"),
    [
        (None, "QuickBooks Online is not connected"),
        (
            connection(ConnectionStatus.DISCONNECTED),
            "QuickBooks Online needs to be reconnected (it was disconnected)",
        ),
        (
            connection(ConnectionStatus.NEEDS_RECONNECT, "invalid_grant"),
            "QuickBooks Online needs to be reconnected (invalid_grant)",
        ),
        (
            connection(ConnectionStatus.NEEDS_RECONNECT),
            "QuickBooks Online needs to be reconnected (authorization expired)",
        ),
        (
            connection(country=None),
            "the QuickBooks Online company's country is not known yet (reconnect to read it)",
        ),
    ],
)
def test_blocked_connection_parks_the_command(conn: Connection | None, reason: str) -> None:
    h = Harness(conn, settings(CA_TAX))

    result = h.handle()

    assert (result.outcome, result.reason) == (Outcome.PARKED, reason)
    assert_parked(h, reason)
    assert h.qbo_requested == []


@pytest.mark.parametrize(
    "tenant_settings",
    [None, settings(income_account=None), settings(tax=CA_TAX.model_copy(update={"tax_code_id": None}))],
)
def test_incomplete_settings_park_the_command(tenant_settings: TenantSettings | None) -> None:
    h = Harness(connection(), tenant_settings)

    result = h.handle()

    reason = "the integration settings (default income account and tax code) are not complete"
    assert (result.outcome, result.reason) == (Outcome.PARKED, reason)
    assert_parked(h, reason)


def test_needs_reconnect_during_the_copy_parks_the_command() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    h.qbo.fail_next("query", NeedsReconnect(TENANT, REALM, "refresh token revoked"))

    result = h.handle()

    reason = "QuickBooks Online needs to be reconnected (refresh token revoked)"
    assert (result.outcome, result.reason) == (Outcome.PARKED, reason)
    assert h.parked.count_parked(TENANT) == 1
    assert h.parked.reasons() == [reason]
    assert h.onedesk.last_message("1003").level == "warning"
    assert h.audit.outcomes()[-1] == ("copy", "parked")
    assert h.qbo.rows(qbo.Invoice) == []
    assert h.connections.syncs == []


def test_connected_tenant_copies_with_the_company_from_the_connection() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))

    result = h.handle()

    assert result.outcome is Outcome.DONE
    assert h.qbo_requested == [(TENANT, REALM)]
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.GlobalTaxCalculation == "TaxExcluded"  # country CA from the connection
    assert created.Line[0].SalesItemLineDetail is not None
    assert created.Line[0].SalesItemLineDetail.TaxCodeRef == qbo.Ref(value="3")
    assert h.parked.count_parked(TENANT) == 0
    assert h.connections.syncs == [(TENANT, NOW)]


def test_unknown_tenant_is_an_error_not_parked() -> None:
    h = Harness(connection(), settings())
    with pytest.raises(UnknownTenant):
        h.handle("nobody")
    assert h.parked.entries == {}


def test_qbo_refusing_even_a_fresh_token_marks_the_connection_and_parks() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    h.qbo.fail_next("query", QboAuthError(status=403, code="3100", message="ApplicationAuthorizationFailed"))

    result = h.handle()

    reason = "QuickBooks Online needs to be reconnected (ApplicationAuthorizationFailed)"
    assert (result.outcome, result.reason) == (Outcome.PARKED, reason)
    assert h.parked.reasons() == [reason]
    assert h.connections.reconnect_reasons == [(TENANT, "ApplicationAuthorizationFailed")]


def test_a_command_for_an_invoice_deleted_in_onedesk_is_final_and_audited() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    clicked = InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="gone-7",  # "Copy" clicked, then the invoice deleted: no snapshot, OneDesk answers 404
        action=InvoiceAction.COPY,
        request_id="req-2",
        requested_at=NOW,
        source="api",
    )

    result = handle_invoice_command(clicked, h.ports)

    assert result.outcome is Outcome.FAILED
    assert result.reason is not None and "no longer exists in OneDesk" in result.reason
    [record] = h.audit.records
    assert (record.action, record.outcome, record.invoice_id) == ("copy", Outcome.FAILED, "gone-7")
    assert record.reason == result.reason
    assert h.parked.entries == {}
    assert h.qbo.total_calls == 0
    assert h.onedesk.writes == 0  # there is no invoice left to show a message on


def test_onedesk_refusing_the_api_key_parks_without_writing_to_onedesk() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    h.onedesk.fail_next_write = OneDeskAuthError("OneDesk PUT invoices/1003/tags answered HTTP 401")

    result = h.handle()

    reason = "OneDesk refused the integration's API key (OneDesk PUT invoices/1003/tags answered HTTP 401)"
    assert (result.outcome, result.reason) == (Outcome.PARKED, reason)
    assert h.parked.reasons() == [reason]
    assert h.audit.outcomes()[-1] == ("copy", "parked")
    assert h.onedesk.writes == 1  # the refused write only; no message attempted afterwards
    assert h.onedesk.messages == {}


# ------------------------------------------------------------------------------------------ plan


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.GROWTH])
def test_a_plan_below_premium_refuses_the_command_for_good_before_anything_else(plan: Plan) -> None:
    h = Harness(None)  # not even connected: still refused, never parked
    h.plan = plan

    result = h.handle()

    reason = (
        "the QuickBooks Online integration is part of OneDesk's Premium plan and higher; this account is on "
        f"the {plan.value} plan"
    )
    assert (result.outcome, result.reason) == (Outcome.REFUSED, reason)
    assert h.parked.entries == {}
    assert h.qbo_requested == []
    assert h.onedesk.messages["1003"] == [
        SyncMessage(level="error", text=f"Not copied to QuickBooks Online: {reason}.", at=NOW)
    ]
    assert h.audit.outcomes() == [("copy", "refused")]


def test_the_same_plan_refusal_seen_again_through_the_poller_writes_nothing() -> None:
    h = Harness(connection(), settings())
    h.plan = Plan.GROWTH
    h.handle()
    shown = make_invoice(currency="CAD").model_copy(update={"sync_message": h.onedesk.last_message("1003")})
    h.onedesk.writes = 0

    result = h.handle(snapshot=shown)

    assert result.outcome is Outcome.REFUSED
    assert h.onedesk.writes == 0
    assert len(h.audit.records) == 1


def test_the_plan_is_read_from_onedesk_at_most_every_five_minutes_per_tenant() -> None:
    ticks = [0.0]
    onedesk = FakeOneDesk()
    onedesk.profile = AccountProfile(account_id="a", name="Acme", plan=Plan.PREMIUM)
    reads: list[str] = []

    def onedesk_for(for_tenant: Tenant) -> OneDeskPort:
        reads.append(for_tenant.tenant_id)
        return onedesk

    plans = CachedAccountPlans(onedesk_for, clock=lambda: ticks[0])
    assert plans.plan_of(tenant()) is Plan.PREMIUM
    onedesk.profile = onedesk.profile.model_copy(update={"plan": Plan.GROWTH})  # downgraded
    ticks[0] = 299.0
    assert plans.plan_of(tenant()) is Plan.PREMIUM  # cached
    ticks[0] = 301.0
    assert plans.plan_of(tenant()) is Plan.GROWTH
    assert reads == [TENANT, TENANT]


# ------------------------------------------------------------------------------------------ sends that waited


def sent_invoice(modified: timedelta) -> Invoice:
    return make_invoice(currency="CAD", status=InvoiceStatus.SENT, modified_at=AT + modified)


def test_an_automatic_send_marked_before_the_connection_is_copied_and_waits_for_the_admin() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))  # connected three days before AT
    marked_while_disconnected = sent_invoice(-timedelta(days=4))

    result = h.handle(action=InvoiceAction.SEND, snapshot=marked_while_disconnected)

    assert result.outcome is Outcome.DONE
    assert len(h.qbo.rows(qbo.Invoice)) == 1  # copied
    assert h.deliveries.deliveries == []  # not emailed
    [waiting] = h.parked.parked(TENANT)
    assert (waiting.action, waiting.invoice_id) == (InvoiceAction.SEND, "1003")
    assert h.parked.reasons() == [HELD_SEND]
    message = h.onedesk.last_message("1003")
    assert (message.level, message.text) == (
        "warning",
        f"Copied to QuickBooks Online but not emailed yet: {HELD_SEND}.",
    )


def test_a_later_automatic_send_of_a_waiting_invoice_waits_too() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    h.handle(action=InvoiceAction.SEND, snapshot=sent_invoice(-timedelta(days=4)))
    echo = sent_invoice(timedelta(minutes=5))  # our own write-back, after the connection

    h.handle(action=InvoiceAction.SEND, snapshot=echo)

    assert h.deliveries.deliveries == []
    [waiting] = h.parked.parked(TENANT)
    assert waiting.snapshot == echo


def test_an_automatic_send_marked_while_connected_is_delivered() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))

    h.handle(action=InvoiceAction.SEND, snapshot=sent_invoice(timedelta(0)))

    assert [d.invoice_id for d in h.deliveries.deliveries] == ["1003"]
    assert h.parked.entries == {}


def test_a_send_click_after_the_reconnect_sends_and_drops_the_waiting_one() -> None:
    h = Harness(connection(country="CA"), settings(CA_TAX))
    h.handle(action=InvoiceAction.SEND, snapshot=sent_invoice(-timedelta(days=4)))
    h.onedesk.invoices["1003"] = sent_invoice(timedelta(minutes=1))

    h.handle(action=InvoiceAction.SEND, source="api")

    assert [d.request_id for d in h.deliveries.deliveries] == ["req-api"]
    assert h.parked.entries == {}  # confirming it later would email the customer twice
