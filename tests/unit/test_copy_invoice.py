"""copy_invoice with in-memory ports: matching, exactly-once create, updates, refusals, write-back, send."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import pytest

from qbo_sync.adapters.qbo.query import plan_queries
from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import DeliveryCommand, InvoiceAction, InvoiceCommand
from qbo_sync.domain.invoice_mapping import CompanyProfile, marker, plan_invoice
from qbo_sync.domain.onedesk import Invoice, QboReference, SyncMessage
from qbo_sync.domain.request_ids import request_id
from qbo_sync.domain.taxes import SeenTaxes, TaxCombination, TaxMode, choose_tax
from qbo_sync.domain.tenant import TenantSettings
from qbo_sync.ports.onedesk import OneDeskUnavailable
from qbo_sync.ports.qbo import Condition, QboResult, QboTransient, QboValidationError
from qbo_sync.ports.store import InvoiceLink, LinkState
from qbo_sync.usecases.copy_invoice import (
    NO_BILLING_EMAIL,
    CopyContext,
    CopyPorts,
    CopyResult,
    copy_invoice,
)
from tests.unit.builders import (
    AT,
    CA_CATALOG,
    INCOME_ACCOUNT,
    REALM,
    TENANT,
    US_CATALOG,
    make_invoice,
    organization,
    settings,
    tax_line,
    time_line,
    us_company,
)
from tests.unit.fakes import (
    FakeAuditLog,
    FakeDeliveryQueue,
    FakeMappingStore,
    FakeOneDesk,
    FakeQbo,
    FakeTenantStore,
    FixedClock,
)

NOW = AT + timedelta(minutes=1)


def two_service_invoice(**fields: object) -> Invoice:
    """Support 1.5 h x 120 = 180.00 and Design 2 h x 95 = 190.00: total 370.00."""
    return make_invoice(
        time_line(description="Ticket #88 Printer jam", service_type="Support"),
        time_line("Task: new logo", "Design", "2", "95", "190.00", line_id="t2"),
        **fields,  # type: ignore[arg-type]
    )


class Harness:
    def __init__(self, company: CompanyProfile | None = None, tenant_settings: TenantSettings | None = None):
        self.clock = FixedClock(NOW)
        self.qbo = FakeQbo(REALM, self.clock)
        self.onedesk = FakeOneDesk()
        self.mappings = FakeMappingStore()
        self.audit = FakeAuditLog()
        self.deliveries = FakeDeliveryQueue()
        self.ctx = CopyContext(TENANT, company or us_company(), tenant_settings or settings())
        self.tenants = FakeTenantStore()
        # The settings page stored the company's tax codes a minute ago.
        self.tenants.catalogs[(TENANT, REALM)] = US_CATALOG if self.ctx.company.is_us else CA_CATALOG
        self.ports = CopyPorts(
            onedesk=self.onedesk,
            qbo=self.qbo,
            mappings=self.mappings,
            audit=self.audit,
            deliveries=self.deliveries,
            tax_catalogs=self.tenants,
            clock=self.clock,
        )

    def copy(
        self,
        invoice: Invoice,
        action: InvoiceAction = InvoiceAction.COPY,
        request: str = "req-1",
        source: Literal["poller", "api", "parked"] = "poller",
    ) -> CopyResult:
        command = InvoiceCommand(
            tenant_id=TENANT,
            invoice_id=invoice.id,
            action=action,
            request_id=request,
            requested_at=self.clock(),
            source=source,
            snapshot=invoice,
        )
        return copy_invoice(command, self.ctx, self.ports)

    def link(self, invoice_id: str = "1003") -> InvoiceLink:
        link = self.mappings.invoice_link(TENANT, REALM, invoice_id)
        assert link is not None
        return link

    def seed_names(self) -> tuple[str, str]:
        """The customer and Support item already exist in QBO and are linked."""
        customer = self.qbo.add(qbo.Customer(DisplayName="Globex"))
        item = self.qbo.add(qbo.Item(Name="Support", Type="Service"))
        assert customer.Id and item.Id
        self.mappings.link_customer(TENANT, REALM, "org-7", customer.Id)
        self.mappings.link_items(TENANT, REALM, {"Support": item.Id})
        return customer.Id, item.Id

    def as_onedesk_shows(self, invoice: Invoice) -> Invoice:
        """``invoice`` with the sync message OneDesk shows now (what the poller's snapshot carries)."""
        messages = self.onedesk.messages.get(invoice.id)
        return invoice.model_copy(update={"sync_message": messages[-1] if messages else None})

    def forget_calls(self) -> None:
        self.qbo.reset_calls()
        self.onedesk.writes = 0
        self.audit.records.clear()


# ------------------------------------------------------------------------------------------ first copy


def test_first_copy_creates_customer_items_and_invoice_then_tags_onedesk() -> None:
    h = Harness()
    invoice = two_service_invoice()

    result = h.copy(invoice)

    # One query per name kind, one batch for the three missing names, one invoice create.
    assert h.qbo.calls == {"query": 2, "batch_create": 1, "create": 1}
    [customer] = h.qbo.rows(qbo.Customer)
    assert customer.DisplayName == "Globex"
    assert customer.CompanyName == "Globex"
    assert (customer.GivenName, customer.FamilyName) == ("Pat", "Payer")
    assert customer.PrimaryEmailAddr == qbo.EmailAddress(Address="ap@globex.test")
    items = {item.Name: item for item in h.qbo.rows(qbo.Item)}
    assert sorted(items) == ["Design", "Support"]
    for item in items.values():
        assert item.Type == "Service"
        assert item.IncomeAccountRef == qbo.Ref(value=INCOME_ACCOUNT)
    assert [[type(e).__name__ for e in batch] for batch in h.qbo.batches] == [["Customer", "Item", "Item"]]

    [created] = h.qbo.rows(qbo.Invoice)
    assert created.CustomerRef.value == customer.Id
    refs = [line.SalesItemLineDetail.ItemRef.value for line in created.Line if line.SalesItemLineDetail]
    assert refs == [items["Support"].Id, items["Design"].Id]
    assert sum((line.Amount or Decimal(0) for line in created.Line), Decimal(0)) == Decimal("370.00")
    assert created.PrivateNote == "Copied from OneDesk invoice INV-0001 [onedesk:1003]"
    assert h.qbo.create_request_ids[-1] == request_id(TENANT, REALM, "1003", "create", 0)

    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=created.Id)
    link = h.link()
    assert link.state is LinkState.DONE
    assert (link.qbo_invoice_id, link.sync_token, link.customer_id) == (created.Id, "0", customer.Id)
    assert link.synced_modified_at == AT
    assert link.content_hash == link.reported_hash
    assert h.mappings.customer_id(TENANT, REALM, "org-7") == customer.Id
    assert h.mappings.item_ids(TENANT, REALM, ["Support", "Design"]) == {
        "Support": items["Support"].Id,
        "Design": items["Design"].Id,
    }

    assert h.onedesk.references["1003"] == QboReference(
        realm_id=REALM, qbo_invoice_id=str(created.Id), qbo_doc_number=created.DocNumber, copied_at=NOW
    )
    assert h.onedesk.messages["1003"] == [
        SyncMessage(
            level="info",
            text=f"Copied to QuickBooks Online as invoice {created.DocNumber} (total 370.00).",
            at=NOW,
        )
    ]
    assert h.audit.outcomes() == [("create-customer", "done"), ("create-items", "done"), ("copy", "done")]
    assert h.deliveries.deliveries == []


def test_existing_customer_and_items_are_matched_by_exact_name_not_created() -> None:
    h = Harness()
    customer = h.qbo.add(
        qbo.Customer(DisplayName="Globex", PrimaryEmailAddr=qbo.EmailAddress(Address="x@y.z"))
    )
    support = h.qbo.add(qbo.Item(Name="Support", Type="Service"))
    h.qbo.add(qbo.Customer(DisplayName="Globex Ltd"))

    h.copy(make_invoice())

    assert h.qbo.calls == {"query": 2, "create": 1}
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.CustomerRef.value == customer.Id
    assert created.Line[0].SalesItemLineDetail is not None
    assert created.Line[0].SalesItemLineDetail.ItemRef.value == support.Id
    # P12: an existing customer's contact is never overwritten.
    assert h.qbo.get(qbo.Customer, str(customer.Id)).PrimaryEmailAddr == qbo.EmailAddress(Address="x@y.z")


# ------------------------------------------------------------------------------------------ re-copies


def test_recopy_of_an_unchanged_invoice_from_the_poller_writes_nothing_anywhere() -> None:
    h = Harness()
    h.copy(two_service_invoice())
    link = h.link()
    h.forget_calls()
    saves = h.mappings.saves
    # Our own write-back bumped the OneDesk modification time; the content is the same.
    echoed = h.as_onedesk_shows(two_service_invoice(modified_at=AT + timedelta(minutes=2)))

    result = h.copy(echoed)

    assert h.qbo.total_calls == 0
    assert h.onedesk.writes == 0
    assert result.outcome is Outcome.DONE
    assert h.audit.records == []  # no audit row per echo
    assert h.mappings.saves == saves  # the link is not rewritten either
    assert h.link() == link


def test_recopy_after_an_edit_updates_the_same_invoice_with_the_stored_sync_token() -> None:
    h = Harness()
    h.copy(two_service_invoice())
    [original] = h.qbo.rows(qbo.Invoice)
    h.forget_calls()
    edited = make_invoice(
        time_line(description="Ticket #88 Printer jam", hours="2", amount="240.00"),
        modified_at=AT + timedelta(hours=1),
    )

    result = h.copy(edited)

    assert h.qbo.calls == {"sparse_update": 1}
    [update] = h.qbo.updates
    assert (update.entity_id, update.sync_token) == (original.Id, "0")
    [updated] = h.qbo.rows(qbo.Invoice)
    assert updated.Id == original.Id
    assert updated.SyncToken == "1"
    assert [line.Amount for line in updated.Line] == [Decimal("240.00")]
    link = h.link()
    assert (link.sync_token, link.synced_modified_at) == ("1", AT + timedelta(hours=1))
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=original.Id)
    assert h.onedesk.last_message("1003").text == (
        f"Copied to QuickBooks Online as invoice {original.DocNumber} (total 240.00)."
    )
    [done] = [r for r in h.audit.records if r.outcome is Outcome.DONE]
    assert (done.sync_token_before, done.sync_token_after) == ("0", "1")


def test_stale_sync_token_is_reread_and_retried_once() -> None:
    h = Harness()
    h.copy(make_invoice())
    [original] = h.qbo.rows(qbo.Invoice)
    h.qbo.edit_in_qbo(qbo.Invoice, str(original.Id))  # a bookkeeper edited it in QBO: SyncToken 1
    h.forget_calls()

    result = h.copy(make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1)))

    assert h.qbo.calls == {"sparse_update": 2, "read": 1}
    assert [u.sync_token for u in h.qbo.updates] == ["0", "1"]
    assert h.qbo.updates[0].request_id != h.qbo.updates[1].request_id
    assert h.link().sync_token == "2"
    assert result.outcome is Outcome.DONE


def test_invoice_deleted_in_qbo_is_created_again_and_relinked_with_a_new_request_id() -> None:
    h = Harness()
    h.copy(make_invoice())
    first_link = h.link()
    h.qbo.delete(qbo.Invoice, str(first_link.qbo_invoice_id))
    h.forget_calls()

    result = h.copy(make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1)))

    [recreated] = h.qbo.rows(qbo.Invoice)
    assert recreated.Id != first_link.qbo_invoice_id
    # 610 on the update, one read confirms the delete (not an inactive item), one create.
    assert h.qbo.calls == {"sparse_update": 1, "read": 1, "create": 1}
    link = h.link()
    assert (link.state, link.generation, link.qbo_invoice_id) == (LinkState.DONE, 1, recreated.Id)
    assert link.create_request_id == request_id(TENANT, REALM, "1003", "create", 1)
    assert link.create_request_id != first_link.create_request_id
    assert h.qbo.create_request_ids[-1] == link.create_request_id
    assert h.onedesk.references["1003"].qbo_invoice_id == recreated.Id
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=recreated.Id)
    assert ("copy", "warning") in h.audit.outcomes()


def test_pending_link_after_a_crash_adopts_the_invoice_found_by_its_marker() -> None:
    h = Harness()
    h.seed_names()
    # QBO created the invoice but the response was lost (the Lambda died before the link was done).
    h.qbo.fail_next("create", QboTransient(status=504, code=None, message="Gateway Timeout"), performed=True)
    with pytest.raises(QboTransient):
        h.copy(make_invoice())
    assert h.link().state is LinkState.PENDING
    [created] = h.qbo.rows(qbo.Invoice)
    h.forget_calls()

    result = h.copy(make_invoice())

    assert h.qbo.calls == {"query": 1}
    assert h.qbo.rows(qbo.Invoice) == [created]
    link = h.link()
    assert (link.state, link.qbo_invoice_id, link.sync_token) == (LinkState.DONE, created.Id, "0")
    assert h.onedesk.references["1003"].qbo_invoice_id == created.Id
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=created.Id)


def test_onedesk_write_back_lost_after_the_qbo_write_is_redone_without_calling_qbo() -> None:
    h = Harness()
    h.onedesk.fail_next_write = OneDeskUnavailable("HTTP 503")
    with pytest.raises(OneDeskUnavailable):
        h.copy(make_invoice())
    assert h.link().state is LinkState.DONE
    assert h.link().reported_hash is None
    h.forget_calls()

    result = h.copy(make_invoice())

    [created] = h.qbo.rows(qbo.Invoice)
    assert h.qbo.total_calls == 0
    assert h.onedesk.references["1003"].qbo_invoice_id == created.Id
    assert h.link().reported_hash == h.link().content_hash
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=created.Id)


def test_pending_link_lookup_uses_doc_number_with_custom_transaction_numbers() -> None:
    h = Harness(us_company(custom_txn_numbers=True))
    customer_id, _ = h.seed_names()
    h.mappings.begin_create(
        InvoiceLink(
            tenant_id=TENANT,
            realm_id=REALM,
            invoice_id="1003",
            invoice_number="INV-0001",
            state=LinkState.PENDING,
            create_request_id=request_id(TENANT, REALM, "1003", "create", 0),
            customer_id=customer_id,
        ),
        replaces=None,
    )
    other = qbo.Invoice(
        CustomerRef=qbo.Ref(value=customer_id),
        Line=[],
        DocNumber="INV-0002",
        PrivateNote=f"note {marker('1003')}",
    )
    h.qbo.add(other)
    ours = h.qbo.add(
        qbo.Invoice(
            CustomerRef=qbo.Ref(value=customer_id),
            Line=[],
            DocNumber="INV-0001",
            PrivateNote=f"Copied from OneDesk invoice INV-0001 {marker('1003')}",
        )
    )

    h.copy(make_invoice())

    assert (h.qbo.calls["query"], h.qbo.calls["create"]) == (1, 0)
    assert h.link().qbo_invoice_id == ours.Id


def test_adopted_invoice_from_an_interrupted_older_copy_gets_the_current_content() -> None:
    h = Harness()
    h.seed_names()
    h.qbo.fail_next("create", QboTransient(status=504, code=None, message="Gateway Timeout"), performed=True)
    with pytest.raises(QboTransient):
        h.copy(make_invoice())  # 180.00 created in QBO, link left pending
    edited = make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1))

    h.copy(edited)  # e.g. the API command redelivered: it reads the invoice as it is now
    h.copy(edited)  # the poller's command for the same edit

    [in_qbo] = h.qbo.rows(qbo.Invoice)
    assert [line.Amount for line in in_qbo.Line] == [Decimal("240.00")]


# ------------------------------------------------------------------------------------- names: races, refusals


def test_duplicate_name_race_on_customer_adopts_the_winner() -> None:
    h = Harness()
    support = h.qbo.add(qbo.Item(Name="Support", Type="Service"))
    h.mappings.link_items(TENANT, REALM, {"Support": str(support.Id)})
    winner: list[qbo.Customer] = []
    # Another worker creates "Globex" between our query and our create: QBO answers 6240.
    h.qbo.before_next("create", lambda: winner.append(h.qbo.add(qbo.Customer(DisplayName="Globex"))))

    result = h.copy(make_invoice())

    assert h.qbo.calls == {"query": 2, "create": 2}
    assert len(h.qbo.rows(qbo.Customer)) == 1
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.CustomerRef.value == winner[0].Id
    assert h.mappings.customer_id(TENANT, REALM, "org-7") == winner[0].Id
    assert result.outcome is Outcome.DONE


def test_duplicate_name_race_inside_a_batch_adopts_the_winner() -> None:
    h = Harness()
    winner: list[qbo.Item] = []
    h.qbo.before_next(
        "batch_create", lambda: winner.append(h.qbo.add(qbo.Item(Name="Design", Type="Service")))
    )

    result = h.copy(two_service_invoice())

    assert result.outcome is Outcome.DONE
    assert sorted(i.Name for i in h.qbo.rows(qbo.Item)) == ["Design", "Support"]
    assert h.mappings.item_ids(TENANT, REALM, ["Design"]) == {"Design": winner[0].Id}


def test_duplicate_name_without_an_exact_active_match_is_refused_and_nothing_is_created() -> None:
    h = Harness()
    h.seed_names()
    h.mappings.customers.clear()
    h.qbo.delete(qbo.Customer, h.qbo.rows(qbo.Customer)[0].Id or "")
    h.qbo.add(qbo.Customer(DisplayName="Globex", Active=False))  # inactive: invisible to a plain query

    result = h.copy(make_invoice())

    expected = (
        "QuickBooks Online has an inactive customer named 'Globex': make it active in QuickBooks Online "
        "(or rename it there), then copy again."
    )
    assert result == CopyResult(Outcome.REFUSED, expected)
    assert h.qbo.rows(qbo.Invoice) == []
    assert h.mappings.invoice_link(TENANT, REALM, "1003") is None
    assert h.onedesk.last_message("1003") == SyncMessage(
        level="error", text=f"Not copied to QuickBooks Online: {expected}", at=NOW
    )
    assert h.audit.outcomes()[-1] == ("copy", "refused")


def test_customer_name_qbo_forbids_is_refused_before_any_qbo_call() -> None:
    h = Harness()
    result = h.copy(make_invoice(org=organization(name="Globex: East")))
    assert result.outcome is Outcome.REFUSED
    assert result.reason is not None and "a colon" in result.reason
    assert h.qbo.total_calls == 0


def test_customer_and_service_type_with_the_same_name_keep_their_own_ids() -> None:
    h = Harness()
    invoice = make_invoice(
        time_line(service_type="Consulting"),
        time_line("Setup", "Support", "1", "10", "10.00", line_id="t2"),
        org=organization(name="Consulting"),
    )

    h.copy(invoice)

    [customer] = h.qbo.rows(qbo.Customer)
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.CustomerRef.value == customer.Id
    assert h.mappings.customer_id(TENANT, REALM, "org-7") == customer.Id


class AdapterFaithfulQbo(FakeQbo):
    """Refuses the queries the real adapter refuses (qbo_sync.adapters.qbo.query.plan_queries)."""

    def query[E: qbo.Entity](
        self, entity: type[E], where: Sequence[Condition] = (), *, include_inactive: bool = False
    ) -> QboResult[list[E]]:
        plan_queries(where, include_inactive=include_inactive)
        return super().query(entity, where, include_inactive=include_inactive)


def test_service_type_with_a_curly_apostrophe_can_be_looked_up() -> None:
    h = Harness()
    faithful = AdapterFaithfulQbo(REALM, h.clock)
    h.qbo = faithful
    h.ports = dataclasses.replace(h.ports, qbo=faithful)
    name = "Client\u2019s onboarding"
    existing = faithful.add(qbo.Item(Name=name, Type="Service"))

    result = h.copy(make_invoice(time_line(service_type=name)))

    assert result.outcome is Outcome.DONE
    [created] = faithful.rows(qbo.Invoice)
    assert created.Line[0].SalesItemLineDetail is not None
    assert created.Line[0].SalesItemLineDetail.ItemRef.value == existing.Id


def test_customer_name_with_a_curly_apostrophe_is_looked_up_and_matched() -> None:
    h = Harness()
    faithful = AdapterFaithfulQbo(REALM, h.clock)
    h.qbo = faithful
    h.ports = dataclasses.replace(h.ports, qbo=faithful)
    support = faithful.add(qbo.Item(Name="Support", Type="Service"))
    h.mappings.link_items(TENANT, REALM, {"Support": str(support.Id)})
    customer = faithful.add(qbo.Customer(DisplayName="Bob\u2019s Surf Shop"))

    result = h.copy(make_invoice(org=organization(name="Bob\u2019s Surf Shop")))

    assert result.outcome is Outcome.DONE
    assert faithful.rows(qbo.Invoice)[0].CustomerRef.value == customer.Id


# ----------------------------------------------------------------------------------------- ordering, refusals


def test_older_snapshot_than_the_synced_one_is_skipped() -> None:
    h = Harness()
    h.copy(make_invoice(time_line(hours="2", amount="240.00"), modified_at=AT + timedelta(hours=1)))
    h.forget_calls()

    result = h.copy(make_invoice(modified_at=AT))  # the older 180.00 version arrives late

    assert h.qbo.total_calls == 0
    assert h.onedesk.writes == 0
    [in_qbo] = h.qbo.rows(qbo.Invoice)
    assert [line.Amount for line in in_qbo.Line] == [Decimal("240.00")]
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=in_qbo.Id)
    [record] = h.audit.records
    assert (record.outcome, record.reason) == (
        Outcome.UNCHANGED,
        "an older snapshot than the one already copied",
    )


def test_validation_error_from_qbo_on_the_invoice_is_a_refusal_not_an_exception() -> None:
    h = Harness()
    h.seed_names()
    error = QboValidationError(
        status=400, code="6000", message="A business validation error has occurred", detail="Bad TxnDate"
    )
    h.qbo.fail_next("create", error)

    result = h.copy(make_invoice())

    reason = (
        "QuickBooks Online refused the invoice: "
        "QBO 6000: A business validation error has occurred | Bad TxnDate"
    )
    assert result == CopyResult(Outcome.REFUSED, reason)
    assert h.onedesk.last_message("1003").text == f"Not copied to QuickBooks Online: {reason}"
    assert h.onedesk.last_message("1003").level == "error"
    assert "1003" not in h.onedesk.references
    assert h.audit.outcomes()[-1] == ("copy", "refused")


def test_validation_error_creating_a_lone_customer_is_a_refusal_not_an_exception() -> None:
    h = Harness()
    support = h.qbo.add(qbo.Item(Name="Support", Type="Service"))
    h.mappings.link_items(TENANT, REALM, {"Support": str(support.Id)})
    h.qbo.refused_names["Globex"] = QboValidationError(
        status=400, code="6000", message="Invalid email", element="PrimaryEmailAddr"
    )

    result = h.copy(make_invoice())

    assert result.outcome is Outcome.REFUSED


def test_validation_error_creating_a_name_in_a_batch_is_a_refusal() -> None:
    h = Harness()
    h.qbo.refused_names["Design"] = QboValidationError(
        status=400, code="2050", message="Length exceeds limit"
    )

    result = h.copy(two_service_invoice())

    assert result == CopyResult(
        Outcome.REFUSED, "QuickBooks Online refused to create 'Design': QBO 2050: Length exceeds limit"
    )
    assert h.qbo.calls["batch_create"] == 1
    assert h.qbo.rows(qbo.Invoice) == []


def test_transient_error_inside_a_batch_is_retried_not_refused() -> None:
    h = Harness()
    h.qbo.refused_names["Design"] = QboTransient(status=None, code=None, message="batch item missing")

    with pytest.raises(QboTransient):
        h.copy(two_service_invoice())


# ------------------------------------------------------------------------------------------ send


def test_send_without_billing_email_copies_but_does_not_send() -> None:
    h = Harness()
    # QBO knows an email for the customer; P10 still says: no OneDesk billing email, no send.
    h.qbo.add(
        qbo.Customer(DisplayName="Globex", PrimaryEmailAddr=qbo.EmailAddress(Address="old@globex.test"))
    )
    invoice = make_invoice(org=organization(email=None))

    result = h.copy(invoice, InvoiceAction.SEND)

    [created] = h.qbo.rows(qbo.Invoice)
    assert result == CopyResult(Outcome.REFUSED, NO_BILLING_EMAIL, created.Id)
    assert NO_BILLING_EMAIL == (
        "Copied to QuickBooks Online but not sent: add a billing contact email under "
        "Customer Organization > Invoice Preferences, then send again."
    )
    assert h.deliveries.deliveries == []
    assert h.qbo.emails == []
    assert h.onedesk.references["1003"].qbo_invoice_id == created.Id
    assert h.onedesk.last_message("1003") == SyncMessage(level="warning", text=NO_BILLING_EMAIL, at=NOW)
    assert h.audit.outcomes()[-1] == ("send", "refused")


def test_send_with_billing_email_queues_the_delivery_with_the_commands_request_id() -> None:
    h = Harness()

    result = h.copy(make_invoice(), InvoiceAction.SEND, request="req-42")

    [created] = h.qbo.rows(qbo.Invoice)
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=created.Id)
    assert h.deliveries.deliveries == [
        DeliveryCommand(
            tenant_id=TENANT,
            realm_id=REALM,
            invoice_id="1003",
            invoice_number="INV-0001",
            qbo_invoice_id=str(created.Id),
            send_to="ap@globex.test",
            request_id="req-42",
            requested_at=NOW,
        )
    ]
    assert h.qbo.emails == []  # P6: the copy itself never emails


def test_send_of_an_unchanged_invoice_still_queues_the_delivery() -> None:
    h = Harness()
    h.copy(make_invoice())
    h.forget_calls()

    h.copy(make_invoice(), InvoiceAction.SEND, request="req-43")

    assert h.qbo.total_calls == 0
    assert [d.request_id for d in h.deliveries.deliveries] == ["req-43"]


def test_foreign_currency_warning_is_shown_with_the_copy_message() -> None:
    h = Harness()
    h.copy(make_invoice(currency="EUR"))

    message = h.onedesk.last_message("1003")
    assert message.level == "warning"
    assert message.text.endswith("(currency is not copied).")
    assert ("copy", "warning") in h.audit.outcomes()
    assert h.qbo.rows(qbo.Invoice)[0].CurrencyRef is None


def test_planned_body_is_what_reaches_qbo() -> None:
    h = Harness()
    customer_id, item_id = h.seed_names()
    invoice = make_invoice()

    h.copy(invoice)

    tax = choose_tax(invoice, TaxMode.US, settings().tax, US_CATALOG)
    expected = plan_invoice(invoice, us_company(), tax, customer_id, {"Support": item_id}).body
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.Line == expected.Line
    assert created.BillEmail == expected.BillEmail


# ------------------------------------------------------------------------------------------ tax codes


def indiana_in_qbo(h: Harness) -> None:
    """QBO has a 7 % code the stored snapshot does not know yet (created in QBO's UI meanwhile)."""
    rate = h.qbo.add(qbo.TaxRate(Name="Indiana", RateValue=Decimal(7)))
    assert rate.Id
    details = [qbo.TaxRateDetail(TaxRateRef=qbo.Ref(value=rate.Id))]
    h.qbo.add(
        qbo.TaxCode(Name="Indiana", Active=True, SalesTaxRateList=qbo.TaxRateList(TaxRateDetail=details))
    )
    snapshot = US_CATALOG.model_copy(update={"codes": US_CATALOG.codes[:1]})  # CA State only
    h.tenants.catalogs[(TENANT, REALM)] = snapshot


def test_a_copy_with_a_known_code_reads_no_tax_code_from_qbo() -> None:
    h = Harness()
    h.seed_names()
    h.copy(make_invoice(time_line(), tax_line("14.85", "8.25")))

    assert h.qbo.calls == {"create": 1}  # no TaxCode or TaxRate query
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.TxnTaxDetail is not None and created.TxnTaxDetail.TxnTaxCodeRef == qbo.Ref(value="7")


def test_a_code_missing_from_a_stale_snapshot_is_read_from_qbo_once_then_used() -> None:
    h = Harness()
    h.seed_names()
    indiana_in_qbo(h)
    h.clock.advance(timedelta(minutes=10))  # the snapshot was read at AT: now stale

    result = h.copy(make_invoice(time_line(), tax_line("12.60", "7")))

    assert result.outcome is Outcome.DONE
    assert h.qbo.calls == {"query": 2, "create": 1}  # TaxRate and TaxCode, then the invoice
    [created] = h.qbo.rows(qbo.Invoice)
    assert created.TxnTaxDetail is not None and created.TxnTaxDetail.TxnTaxCodeRef is not None
    indiana = h.tenants.get_tax_catalog(TENANT, REALM).code(created.TxnTaxDetail.TxnTaxCodeRef.value)
    assert indiana is not None and indiana.name == "Indiana"
    assert h.tenants.get_tax_catalog(TENANT, REALM).read_at == h.clock()


def test_a_code_missing_from_a_fresh_snapshot_is_refused_without_reading_qbo_or_creating_names() -> None:
    h = Harness()
    indiana_in_qbo(h)  # not yet known: the snapshot is from a minute ago

    result = h.copy(make_invoice(time_line(), tax_line("12.60", "7")))

    assert result.outcome is Outcome.REFUSED
    assert result.reason == (
        "Invoice INV-0001 charges Sales tax 7%, but no QuickBooks Online tax code has this rate. Create a "
        "tax code with the rate 7% (Sales tax 7%) in QuickBooks Online, then copy again."
    )
    assert h.qbo.total_calls == 0  # neither the tax codes nor a customer or item
    assert h.onedesk.last_message("1003").text == f"Not copied to QuickBooks Online: {result.reason}"


def test_each_combination_of_taxes_is_recorded_once_for_the_settings_page() -> None:
    h = Harness()
    first = make_invoice(time_line(), tax_line("14.85", "8.25"), number="INV-0001")
    h.copy(first)
    h.copy(make_invoice(time_line(), tax_line("14.85", "8.25"), invoice_id="1004", number="INV-0002"))
    h.copy(make_invoice(time_line(), tax_line("12.60", "7"), invoice_id="1005", number="INV-0003"))  # refused

    seen = h.tenants.get_tax_catalog(TENANT, REALM).seen
    assert seen == (
        SeenTaxes(combination=TaxCombination.of(first), first_invoice_number="INV-0001", first_seen_at=NOW),
        SeenTaxes(
            combination=TaxCombination.of(make_invoice(tax_line("12.60", "7"))),
            first_invoice_number="INV-0003",
            first_seen_at=NOW,
        ),
    )
