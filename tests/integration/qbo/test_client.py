"""QboClient (wired by qbo_client_for) against the QBO emulator: entities, queries, faults, retries."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from qbo_sync.adapters.aws import dynamodb_table
from qbo_sync.adapters.http import shared_session
from qbo_sync.adapters.qbo import client as client_module
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.adapters.store.rate_limit import DynamoRequestBudget
from qbo_sync.domain.qbo import (
    CompanyInfo,
    Customer,
    DeletedStub,
    EmailAddress,
    Invoice,
    Item,
    Line,
    Preferences,
    Ref,
    SalesItemLineDetail,
)
from qbo_sync.ports.qbo import (
    Condition,
    QboDuplicateName,
    QboNotFound,
    QboStaleObject,
    QboThrottled,
    QboTransient,
    QboValidationError,
    eq,
    in_,
)
from qbo_sync.wiring import qbo_client_for, realm_tokens

from .conftest import US_REALM, Stack


@pytest.fixture
def tenant(stack: Stack) -> str:
    return stack.connect(US_REALM)


@pytest.fixture
def qbo(stack: Stack, tenant: str) -> QboClient:
    return qbo_client_for(tenant, US_REALM, stack.settings)


def fast_client(stack: Stack, tenant: str, **options: object) -> QboClient:
    """The wired client's parts with no backoff sleeping (retry tests)."""
    budget = DynamoRequestBudget(dynamodb_table(stack.settings.require("app_table_name")), US_REALM)
    return QboClient(
        US_REALM,
        stack.settings.qbo_api_base_url,
        realm_tokens(tenant, stack.settings),
        budget,
        shared_session(),
        sleep=lambda seconds: None,
        **options,  # type: ignore[arg-type]
    )


def rid() -> str:
    return str(uuid.uuid4())


def seeded_id(stack: Stack, entity: str, name: str) -> str:
    for obj in stack.control.entities(US_REALM, entity):
        if name in (obj.get("DisplayName"), obj.get("Name")):
            return str(obj["Id"])
    raise AssertionError(f"{entity} {name} not seeded")


def hours_invoice(stack: Stack, amount: str = "150.00", note: str = "marker") -> Invoice:
    return Invoice(
        CustomerRef=Ref(value=seeded_id(stack, "Customer", "Amy's Bird Sanctuary")),
        DocNumber=f"OD-{uuid.uuid4().hex[:6]}",
        BillEmail=EmailAddress(Address="billing@example.com"),
        PrivateNote=note,
        Line=[
            Line(
                DetailType="SalesItemLineDetail",
                Amount=Decimal(amount),
                Description="Ticket #1: fix the pump",
                SalesItemLineDetail=SalesItemLineDetail(
                    ItemRef=Ref(value=seeded_id(stack, "Item", "Hours")),
                    Qty=Decimal("1.5"),
                    UnitPrice=Decimal(amount) / Decimal("1.5"),
                ),
            )
        ],
    )


# ---------------------------------------------------------------- entities and queries


def test_create_then_find_by_exact_name_with_quote_and_backslash(qbo: QboClient) -> None:
    name = "O'Brien \\ Sons's \"Plumbing\""
    created = qbo.create(Customer(DisplayName=name, CompanyName="O'Brien"), request_id=rid())
    assert created.entity.Id and created.entity.SyncToken == "0"
    assert created.intuit_tid and created.request_id
    found = qbo.query(Customer, [eq("DisplayName", name)])
    assert [c.Id for c in found.entity] == [created.entity.Id]
    assert found.intuit_tid and found.request_id is None


def test_typographic_name_is_found_by_eq(stack: Stack, qbo: QboClient) -> None:
    name = "Bob\u2019s \u201cBest\u201d Surf \u2013 Shop"
    target = qbo.create(Customer(DisplayName=name), request_id=rid()).entity
    qbo.create(Customer(DisplayName=name + " Annex"), request_id=rid())
    qbo.create(Customer(DisplayName='Bob\'s "Best" Surf - Shop'), request_id=rid())
    found = qbo.query(Customer, [eq("DisplayName", name)])
    assert [c.Id for c in found.entity] == [target.Id]
    sent = [e for e in stack.control.requests_log(US_REALM) if e["path"].endswith("/query")]
    assert all(e["status"] == 200 for e in sent)


def test_inactive_name_list_objects_need_include_inactive(qbo: QboClient) -> None:
    assert qbo.query(Customer, [eq("DisplayName", "Old Customer")]).entity == []
    (old,) = qbo.query(Customer, [eq("DisplayName", "Old Customer")], include_inactive=True).entity
    assert old.Active is False
    with pytest.raises(ValueError, match="Active"):
        qbo.query(Invoice, include_inactive=True)


def test_query_pages_through_everything(
    stack: Stack, qbo: QboClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"Page item {n}" for n in range(5)]
    for name in names:
        qbo.create(Item(Name=name, Type="Service", IncomeAccountRef=Ref(value="79")), request_id=rid())
    monkeypatch.setattr(client_module, "MAX_PAGE_SIZE", 2)
    before = len(stack.control.requests_log(US_REALM))
    found = qbo.query(Item, [in_("Name", names)])
    assert sorted(i.Name for i in found.entity) == names
    queries = [e for e in stack.control.requests_log(US_REALM)[before:] if e["path"].endswith("/query")]
    assert len(queries) == 3


def test_read_sparse_update_and_stale_sync_token(qbo: QboClient) -> None:
    created = qbo.create(Customer(DisplayName="Sparse Co"), request_id=rid()).entity
    assert created.Id and created.SyncToken
    updated = qbo.sparse_update(
        Customer, created.Id, created.SyncToken, {"CompanyName": "Sparse Holdings"}, request_id=rid()
    ).entity
    assert (updated.CompanyName, updated.DisplayName, updated.SyncToken) == (
        "Sparse Holdings",
        "Sparse Co",
        "1",
    )
    assert qbo.read(Customer, created.Id).entity.CompanyName == "Sparse Holdings"
    with pytest.raises(QboStaleObject) as stale:
        qbo.sparse_update(Customer, created.Id, "0", {"CompanyName": "Late"}, request_id=rid())
    assert stale.value.code == "5010" and stale.value.intuit_tid


def test_not_found_duplicate_and_validation_faults(qbo: QboClient) -> None:
    with pytest.raises(QboNotFound) as missing:
        qbo.read(Invoice, "999999")
    assert missing.value.code == "610"
    with pytest.raises(QboDuplicateName) as duplicate:
        qbo.create(Customer(DisplayName="Norton Lumber and Building Materials"), request_id=rid())
    assert duplicate.value.code == "6240"
    with pytest.raises(QboValidationError) as invalid:
        qbo.create(Customer(DisplayName="Colon: Inc"), request_id=rid())
    assert invalid.value.code == "6000"
    assert "DisplayName" in (invalid.value.detail or "")
    assert "DisplayName" in str(invalid.value)


def test_invoice_create_send_void(stack: Stack, qbo: QboClient) -> None:
    created = qbo.create(hours_invoice(stack, "150.00"), request_id=rid())
    invoice = created.entity
    assert invoice.Id and invoice.TotalAmt == Decimal("150.00") and invoice.Balance == Decimal("150.00")
    sent = qbo.send_invoice(invoice.Id, "payer@example.com", request_id=rid())
    assert sent.entity.EmailStatus == "EmailSent"
    assert sent.entity.BillEmail == EmailAddress(Address="payer@example.com")
    assert sent.request_id and sent.intuit_tid
    voided = qbo.void_invoice(invoice.Id, str(sent.entity.SyncToken), request_id=rid()).entity
    assert voided.Balance == Decimal(0) and voided.TotalAmt == Decimal(0)
    assert (voided.PrivateNote or "").startswith("Voided")


def test_batch_create_reports_each_item(qbo: QboClient) -> None:
    outcomes = qbo.batch_create(
        [
            Customer(DisplayName="Batch New Co"),
            Customer(DisplayName="Amy's Bird Sanctuary"),
            Item(Name="Batch Service", Type="Service", IncomeAccountRef=Ref(value="79")),
        ],
        request_id=rid(),
    )
    assert isinstance(outcomes[0].entity, Customer) and outcomes[0].entity.Id and outcomes[0].error is None
    assert outcomes[1].entity is None and isinstance(outcomes[1].error, QboDuplicateName)
    assert isinstance(outcomes[2].entity, Item) and outcomes[2].entity.Name == "Batch Service"
    with pytest.raises(ValueError, match="1 to 30"):
        qbo.batch_create([Customer(DisplayName=f"C{n}") for n in range(31)], request_id=rid())


def test_cdc_returns_changes_and_deleted_stubs(stack: Stack, tenant: str, qbo: QboClient) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    kept = qbo.create(hours_invoice(stack), request_id=rid()).entity
    gone = qbo.create(hours_invoice(stack), request_id=rid()).entity
    token = realm_tokens(tenant, stack.settings).current().get_secret_value()
    deleted = requests.post(
        f"{stack.settings.qbo_api_base_url}/v3/company/{US_REALM}/invoice",
        params={"operation": "delete", "minorversion": "75"},
        json={"Id": gone.Id, "SyncToken": gone.SyncToken},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )
    assert deleted.status_code == 200, deleted.text
    changes = qbo.cdc(["Invoice", "Payment"], since).entity
    invoices = {i.Id: i for i in changes.invoices}
    assert isinstance(invoices[kept.Id], Invoice)
    assert isinstance(invoices[gone.Id], DeletedStub)
    assert changes.payments == [] and changes.credit_memos == []
    assert changes.time
    with pytest.raises(ValueError, match="CDC"):
        qbo.cdc(["Customer"], since)


def test_company_info_and_preferences(qbo: QboClient) -> None:
    info = qbo.company_info().entity
    assert isinstance(info, CompanyInfo) and info.CompanyName == "Sandbox Company US"
    prefs = qbo.preferences().entity
    assert isinstance(prefs, Preferences)
    assert prefs.SalesFormsPrefs and prefs.SalesFormsPrefs["CustomTxnNumbers"] is True


# ---------------------------------------------------------------- retries, auth, idempotency


def attempts(stack: Stack, path_suffix: str) -> list[dict[str, object]]:
    return [e for e in stack.control.requests_log(US_REALM) if str(e["path"]).endswith(path_suffix)]


def test_5xx_and_429_are_retried_until_success(stack: Stack, tenant: str) -> None:
    qbo = fast_client(stack, tenant)
    stack.control.fault(method="GET", path_regex="companyinfo", status=503, count=2)
    assert qbo.company_info().entity.CompanyName == "Sandbox Company US"
    stack.control.fault(method="GET", path_regex="preferences", status=429, count=2)
    assert qbo.preferences().entity.SalesFormsPrefs
    statuses = [e["status"] for e in attempts(stack, "/preferences")]
    assert statuses == [429, 429, 200]


def test_retries_exhausted_raise_typed_errors(stack: Stack, tenant: str) -> None:
    qbo = fast_client(stack, tenant, max_attempts=3)
    stack.control.fault(method="GET", path_regex="companyinfo", status=500, count=3)
    with pytest.raises(QboTransient):
        qbo.company_info()
    stack.control.fault(method="GET", path_regex="preferences", status=429, count=3)
    with pytest.raises(QboThrottled) as throttled:
        qbo.preferences()
    assert throttled.value.code == "3001"  # parsed from the XML body
    assert len(attempts(stack, "/companyinfo/" + US_REALM)) == 3


def test_write_whose_response_was_lost_after_commit_is_replayed_not_repeated(
    stack: Stack, tenant: str
) -> None:
    qbo = fast_client(stack, tenant)
    marker = f"od-{uuid.uuid4().hex}"
    stack.control.fault(method="POST", path_regex="/invoice$", status=500, count=1, after_commit=True)
    request_id = rid()
    created = qbo.create(hours_invoice(stack, note=marker), request_id=request_id)
    stored = [i for i in stack.control.entities(US_REALM, "Invoice") if i.get("PrivateNote") == marker]
    assert [i["Id"] for i in stored] == [created.entity.Id]
    posts = attempts(stack, "/invoice")
    assert [(e["status"], e["requestid"]) for e in posts] == [(500, request_id), (200, request_id)]


def test_write_that_timed_out_is_retried_with_the_same_request_id(stack: Stack, tenant: str) -> None:
    qbo = fast_client(stack, tenant, timeout_seconds=0.5)
    marker = f"od-{uuid.uuid4().hex}"
    # QBO is slow, the client gives up at 0.5 s and retries; the slow original then completes too.
    stack.control.fault(
        method="POST", path_regex="/invoice$", status=504, count=1, delay_ms=1500, after_commit=True
    )
    request_id = rid()
    created = qbo.create(hours_invoice(stack, note=marker), request_id=request_id)
    deadline = time.monotonic() + 10
    while len(attempts(stack, "/invoice")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # until the slow original has run too
    posts = attempts(stack, "/invoice")
    assert sorted(e["status"] for e in posts) == [200, 504]
    assert {e["requestid"] for e in posts} == {request_id}
    stored = [i for i in stack.control.entities(US_REALM, "Invoice") if i.get("PrivateNote") == marker]
    assert [i["Id"] for i in stored] == [created.entity.Id]


def test_expired_access_token_is_refreshed_once_after_401(stack: Stack, tenant: str, qbo: QboClient) -> None:
    before = stack.store.get_tokens(tenant)
    assert before is not None
    stack.control.expire_access_tokens(US_REALM)
    assert qbo.company_info().entity.CompanyName == "Sandbox Company US"
    assert [e["status"] for e in attempts(stack, "/companyinfo/" + US_REALM)] == [401, 200]
    assert len(stack.control.token_calls()) == 1
    after = stack.store.get_tokens(tenant)
    assert after is not None
    assert after[0].token_version == before[0].token_version + 1
    assert after[1].refresh_token != before[1].refresh_token


def test_unsupported_inputs_are_refused_before_any_request(qbo: QboClient) -> None:
    with pytest.raises(ValueError, match="request ids"):
        qbo.create(Customer(DisplayName="x"), request_id="x" * 51)
    with pytest.raises(ValueError, match="offset"):
        qbo.cdc(["Invoice"], datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_number_date_and_ref_literals_are_understood(stack: Stack, qbo: QboClient) -> None:
    big = qbo.create(hours_invoice(stack, "900.00"), request_id=rid()).entity
    small = qbo.create(hours_invoice(stack, "15.00"), request_id=rid()).entity
    assert big.TxnDate is not None
    where = [
        Condition("TotalAmt", ">", (Decimal("100.00"),)),
        Condition("TxnDate", ">=", (big.TxnDate,)),
        eq("CustomerRef", big.CustomerRef.value),
    ]
    found = {i.Id for i in qbo.query(Invoice, where).entity}
    assert big.Id in found and small.Id not in found
