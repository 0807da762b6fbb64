"""The real ``OneDeskClient`` driven against the in-process OneDesk sandbox."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from local.onedesk_sandbox.server import encode_json
from qbo_sync.adapters.onedesk import OneDeskClient
from qbo_sync.domain.onedesk import (
    COPIED_TO_QBO_TAG,
    BillingContact,
    InvoiceStatus,
    LineKind,
    PaymentState,
    Plan,
    QboReference,
    SyncMessage,
    Tag,
)
from qbo_sync.ports.onedesk import OneDeskAuthError, OneDeskError, OneDeskNotFound, OneDeskUnavailable
from tests.onedesk.sandbox_control import EVERY_LINE_KIND, SandboxControl, Tenant

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def make_client(
    base_url: str, api_key: str, session: requests.Session | None = None, page_size: int = 100
) -> OneDeskClient:
    return OneDeskClient(
        base_url,
        SecretStr(api_key),
        session or requests.Session(),
        5.0,
        backoff_seconds=0,
        page_size=page_size,
    )


@pytest.fixture
def client(control: SandboxControl, tenant: Tenant) -> OneDeskClient:
    return make_client(control.base_url, tenant.api_key)


def open_invoice(control: SandboxControl, tenant: Tenant, **fields: Any) -> str:
    invoice_id: str = control.invoice(tenant, **fields)["id"]
    control.move(invoice_id, "Open")
    return invoice_id


def public_requests(control: SandboxControl) -> list[tuple[str, int]]:
    return [(entry["method"], entry["status"]) for entry in control.requests_log()]


def test_profile_maps_the_plan(control: SandboxControl) -> None:
    growth = control.tenant(name="Small Shop", plan="Growth")
    profile = make_client(control.base_url, growth.api_key).get_account_profile()
    assert (profile.account_id, profile.name, profile.plan) == (growth.account_id, "Small Shop", Plan.GROWTH)
    assert not profile.plan.includes_invoicing_integrations


def test_get_invoice_maps_every_field_with_exact_money(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    invoice_id = open_invoice(control, tenant, lines=EVERY_LINE_KIND, currency="CAD", dueDate="2026-12-01")
    invoice = client.get_invoice(invoice_id)
    record = control.record(invoice_id)

    assert (invoice.id, invoice.number, invoice.status, invoice.currency) == (
        invoice_id,
        "INV-0001",
        "Open",
        "CAD",
    )
    assert invoice.organization.name == "Globex"
    assert invoice.organization.billing_contact == BillingContact(name="Pat Payer", email="ap@globex.test")
    assert invoice.due_date == date(2026, 12, 1)
    assert [line.kind for line in invoice.lines] == [
        LineKind.TIME,
        LineKind.TIME,
        LineKind.CUSTOM,
        LineKind.DISCOUNT,
        LineKind.TAX,
    ]
    first = invoice.lines[0]
    assert (first.description, first.service_type, first.hours, first.rate, first.amount) == (
        "Fix login page",
        "Support",
        Decimal("1.25"),
        Decimal("99.99"),
        Decimal("124.99"),
    )
    assert invoice.lines[4].tax_rate_percent == Decimal("8.25")
    money = [invoice.subtotal, invoice.total, invoice.amount_paid, invoice.balance]
    assert money == [Decimal("165.12"), Decimal("178.74"), Decimal("0.00"), Decimal("178.74")]
    assert all(type(value) is Decimal for value in money + [line.amount for line in invoice.lines])
    assert invoice.modified_at == datetime.fromisoformat(record["modifiedTime"])
    assert invoice.modified_at.tzinfo is not None
    assert (invoice.tags, invoice.qbo_reference, invoice.sync_message) == ((), None, None)


def test_unknown_and_foreign_invoices_are_not_found(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    foreign = control.invoice(control.tenant(name="Other Co"))["id"]
    for invoice_id in ("999999", foreign):
        with pytest.raises(OneDeskNotFound):
            client.get_invoice(invoice_id)


def test_a_bad_key_raises_auth_error_without_the_key_and_is_not_retried(control: SandboxControl) -> None:
    session = requests.Session()
    with pytest.raises(OneDeskAuthError) as raised:
        make_client(control.base_url, "odk_wrong-secret-key", session).get_account_profile()
    assert "odk_wrong-secret-key" not in f"{raised.value} {raised.value!r}"
    assert "HTTP 401" in str(raised.value)
    assert public_requests(control) == [("GET", 401)]
    assert "OD-Public-API-Key" not in session.headers  # the shared session never carries a tenant's key


def test_lists_every_page_of_invoices_modified_since(control: SandboxControl, tenant: Tenant) -> None:
    invoices = []
    for _ in range(5):
        invoices.append(control.invoice(tenant))
        control.advance_clock(60)
    since = datetime.fromisoformat(invoices[1]["modifiedTime"])

    listed = make_client(control.base_url, tenant.api_key, page_size=2).list_invoices_modified_since(since)

    assert [invoice.number for invoice in listed] == ["INV-0002", "INV-0003", "INV-0004", "INV-0005"]
    filter_calls = [e for e in control.requests_log() if e["path"].endswith("/invoices/filter/details")]
    assert len(filter_calls) == 4  # pages restart at the newest time seen, overlapping by one


def test_a_full_page_of_identical_times_is_stepped_over(control: SandboxControl, tenant: Tenant) -> None:
    control.call("PUT", "/clock", {"frozen": True})
    created = [control.invoice(tenant) for _ in range(5)]
    since = datetime.fromisoformat(created[0]["modifiedTime"])

    listed = make_client(control.base_url, tenant.api_key, page_size=2).list_invoices_modified_since(since)

    assert sorted(invoice.id for invoice in listed) == sorted(invoice["id"] for invoice in created)


class MutatingSession(requests.Session):
    """Runs ``mutate`` right after the first filter page is served, as a user editing meanwhile would."""

    def __init__(self, mutate: Callable[[], object]) -> None:
        super().__init__()
        self._mutate: Callable[[], object] | None = mutate

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if self._mutate and str(url).endswith("/invoices/filter/details"):
            self._mutate, mutate = None, self._mutate
            mutate()
        return response


def test_an_invoice_modified_while_paging_neither_hides_another_nor_is_lost(
    control: SandboxControl, tenant: Tenant
) -> None:
    invoices = []
    for _ in range(5):
        invoices.append(control.invoice(tenant))
        control.advance_clock(60)
    first = invoices[0]["id"]
    # Opening the first invoice moves it to the end: plain offset paging would now skip the third.
    session = MutatingSession(lambda: control.move(first, "Open"))
    client = make_client(control.base_url, tenant.api_key, session, page_size=2)

    listed = client.list_invoices_modified_since(datetime.fromisoformat(invoices[0]["modifiedTime"]))

    assert [invoice.number for invoice in listed] == [
        "INV-0002",
        "INV-0003",
        "INV-0004",
        "INV-0005",
        "INV-0001",
    ]
    assert listed[-1].status is InvoiceStatus.OPEN


def test_since_must_be_timezone_aware(client: OneDeskClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.list_invoices_modified_since(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_set_qbo_reference_records_it_and_shows_the_copied_tag_once(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    invoice_id = open_invoice(control, tenant)
    reference = QboReference(realm_id="9130", qbo_invoice_id="145", qbo_doc_number="1038", copied_at=AT)
    client.set_qbo_reference(invoice_id, reference)
    client.set_qbo_reference(invoice_id, reference)  # a retried copy

    invoice = client.get_invoice(invoice_id)
    assert invoice.qbo_reference == reference
    assert invoice.tags == (Tag(name=COPIED_TO_QBO_TAG, at=AT, detail="QBO invoice 1038"),)


def test_add_tag_and_set_sync_message_round_trip(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    invoice_id = open_invoice(control, tenant)
    tag = Tag(name="Sent via QBO", at=AT, detail=None)
    message = SyncMessage(level="warning", text="Copied, not sent: no billing contact email", at=AT)
    client.add_tag(invoice_id, tag)
    client.set_sync_message(invoice_id, message)

    invoice = client.get_invoice(invoice_id)
    assert (invoice.tags, invoice.sync_message) == ((tag,), message)


def test_set_payment_state_round_trips_and_the_poller_sees_the_write_back(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    invoice_id = open_invoice(control, tenant)
    before = client.get_invoice(invoice_id)
    state = PaymentState(
        amount_paid=Decimal("100.01"),
        balance=Decimal("79.99"),
        status=InvoiceStatus.PARTIALLY_PAID,
        last_payment_date=date(2026, 11, 20),
    )
    client.set_payment_state(invoice_id, state)

    after = client.get_invoice(invoice_id)
    assert (after.amount_paid, after.balance, after.status, after.last_payment_date) == (
        Decimal("100.01"),
        Decimal("79.99"),
        InvoiceStatus.PARTIALLY_PAID,
        date(2026, 11, 20),
    )
    assert after.modified_at > before.modified_at
    assert [
        i.id for i in client.list_invoices_modified_since(before.modified_at + timedelta(milliseconds=1))
    ] == [invoice_id]


def test_a_rejected_write_raises_a_plain_onedesk_error(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    draft_id = control.invoice(tenant)["id"]
    state = PaymentState(
        amount_paid=Decimal(0), balance=Decimal(0), status=InvoiceStatus.PAID, last_payment_date=None
    )
    with pytest.raises(OneDeskError) as raised:
        client.set_payment_state(draft_id, state)
    assert type(raised.value) is OneDeskError
    assert "HTTP 409" in str(raised.value)
    assert public_requests(control) == [("PUT", 409)]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_failures_are_retried(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient, status: int
) -> None:
    invoice_id = open_invoice(control, tenant)
    control.call("POST", "/faults", {"status": status, "count": 2})
    client.add_tag(invoice_id, Tag(name="Sent via QBO", at=AT, detail=None))
    assert public_requests(control) == [("POST", status), ("POST", status), ("POST", 200)]


def test_a_lasting_failure_raises_unavailable_after_three_attempts(
    control: SandboxControl, tenant: Tenant, client: OneDeskClient
) -> None:
    invoice_id = open_invoice(control, tenant)
    control.call("POST", "/faults", {"status": 502, "count": 3})
    with pytest.raises(OneDeskUnavailable, match="HTTP 502"):
        client.get_invoice(invoice_id)
    assert public_requests(control) == [("GET", 502)] * 3
    assert client.get_invoice(invoice_id).id == invoice_id


def test_a_connection_error_raises_unavailable(tenant: Tenant) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}/rest/public", tenant.api_key)
    with pytest.raises(OneDeskUnavailable, match="ConnectionError") as raised:
        client.get_account_profile()
    assert tenant.api_key not in str(raised.value)


@responses.activate
def test_an_error_that_echoes_the_key_is_redacted() -> None:
    responses.get(
        "https://onedesk.test/rest/public/organization/profileAndPolicy",
        status=400,
        json={"code": "BAD_REQUEST", "message": "Header OD-Public-API-Key=odk_secret-123 is malformed"},
    )
    with pytest.raises(OneDeskError) as raised:
        make_client("https://onedesk.test/rest/public/", "odk_secret-123").get_account_profile()
    assert "odk_secret-123" not in str(raised.value)
    assert "[redacted]" in str(raised.value)


@responses.activate
def test_an_invoice_the_domain_rejects_raises_a_readable_error(
    control: SandboxControl, tenant: Tenant
) -> None:
    responses.add_passthru(control.control_url)
    invoice = control.invoice(tenant)
    invoice["lines"][0]["serviceType"] = None  # OneDesk sending a time line without its service type
    responses.get(
        f"https://onedesk.test/rest/public/invoices/{invoice['id']}",
        body=encode_json({"code": "SUCCESS", "data": invoice}),
    )
    with pytest.raises(OneDeskError, match="cannot read"):
        make_client("https://onedesk.test/rest/public", tenant.api_key).get_invoice(invoice["id"])
