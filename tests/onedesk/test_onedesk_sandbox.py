"""Contract tests of the OneDesk sandbox (docs/onedesk-contract.md), over raw HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from local.onedesk_sandbox import OneDeskSandbox
from tests.onedesk.sandbox_control import EVERY_LINE_KIND, TIME_LINE, SandboxControl, Tenant


def since_epoch(limit: int = 50, offset: int = 0, **extra: object) -> dict[str, object]:
    condition = {"property": "modifiedTime", "operation": "GE", "value": "2000-01-01T00:00:00Z"}
    return {"properties": [condition], "isAsc": True, "limit": limit, "offset": offset, **extra}


def test_public_api_needs_the_account_key(control: SandboxControl, tenant: Tenant) -> None:
    for key in (None, "odk_not-a-real-key"):
        response = control.public("GET", "/organization/profileAndPolicy", key)
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"
        assert "odk_not-a-real-key" not in response.text


def test_profile_reports_the_account_and_its_plan(control: SandboxControl) -> None:
    tenant = control.tenant(name="Small Shop", plan="Growth")
    response = control.public("GET", "/organization/profileAndPolicy", tenant.api_key)
    assert response.json() == {
        "code": "SUCCESS",
        "data": {"accountId": tenant.account_id, "name": "Small Shop", "plan": "Growth"},
    }


def test_a_plan_change_shows_in_the_profile(control: SandboxControl) -> None:
    tenant = control.tenant(name="Growing Shop", plan="Premium")
    control.call("PUT", f"/accounts/{tenant.account_id}/plan", {"plan": "Starter"})
    response = control.public("GET", "/organization/profileAndPolicy", tenant.api_key)
    assert response.json()["data"]["plan"] == "Starter"
    refused = requests.put(
        f"{control.control_url}/accounts/{tenant.account_id}/plan", json={"plan": "Gold"}, timeout=10
    )
    assert refused.status_code == 400


def test_an_account_never_sees_another_accounts_invoices(control: SandboxControl, tenant: Tenant) -> None:
    invoice = control.invoice(tenant)
    other = control.tenant(name="Other Co")
    assert control.public("GET", f"/invoices/{invoice['id']}", other.api_key).status_code == 404
    listed = control.public("POST", "/invoices/filter/details", other.api_key, since_epoch()).json()
    assert listed["data"] == {"items": [], "total": 0}
    tag = {"name": "Copied to QBO", "at": "2026-01-01T00:00:00Z"}
    assert control.public("POST", f"/invoices/{invoice['id']}/tags", other.api_key, tag).status_code == 404


def test_amounts_are_exact_and_rounded_half_up_to_cents(control: SandboxControl, tenant: Tenant) -> None:
    invoice = control.invoice(tenant, EVERY_LINE_KIND)
    amounts = [line["amount"] for line in invoice["lines"]]
    # Tax = 8.25 % of (124.99 + 0.13 + 50.00 - 10.00) = 13.6224 -> 13.62.
    assert amounts == [
        Decimal("124.99"),
        Decimal("0.13"),
        Decimal("50.00"),
        Decimal("-10.00"),
        Decimal("13.62"),
    ]
    assert (invoice["subtotal"], invoice["total"]) == (Decimal("165.12"), Decimal("178.74"))
    assert (invoice["amountPaid"], invoice["balance"]) == (Decimal("0.00"), Decimal("178.74"))
    raw = control.public("GET", f"/invoices/{invoice['id']}", tenant.api_key).text
    assert '"total":178.74' in raw  # a JSON number, not a string


def test_an_explicit_amount_wins_over_hours_times_rate(control: SandboxControl, tenant: Tenant) -> None:
    monthly_minimum = {**TIME_LINE, "hours": 3, "rate": 100, "amount": 500}
    assert control.invoice(tenant, [monthly_minimum])["total"] == Decimal("500.00")


def test_lines_are_validated(control: SandboxControl, tenant: Tenant) -> None:
    path = f"/accounts/{tenant.account_id}/invoices"
    for bad_line in (
        {"kind": "time", "description": "No service type", "hours": 1, "rate": 100},
        {"kind": "tax", "description": "Both", "taxRatePercent": 5, "amount": 1},
        {"kind": "custom", "description": "Rate on a custom line", "amount": 5, "taxRatePercent": 5},
        {"kind": "custom", "description": "Unknown field", "amount": 5, "colour": "red"},
        {"kind": "custom", "description": "Text amount", "amount": "5.00"},
    ):
        error = control.call(
            "POST", path, {"organizationId": tenant.organization_id, "lines": [bad_line]}, 400
        )
        assert error["code"] == "BAD_REQUEST"


def test_numbers_are_assigned_per_account_and_stay_unique(control: SandboxControl, tenant: Tenant) -> None:
    assert control.invoice(tenant)["number"] == "INV-0001"
    assert control.invoice(tenant, number="INV-0002")["number"] == "INV-0002"
    assert control.invoice(tenant)["number"] == "INV-0003"
    assert control.invoice(control.tenant(name="Other Co"))["number"] == "INV-0001"
    path = f"/accounts/{tenant.account_id}/invoices"
    control.call(
        "POST", path, {"organizationId": tenant.organization_id, "number": "INV-0001", "lines": []}, 409
    )


def test_only_draft_invoices_can_be_edited(control: SandboxControl, tenant: Tenant) -> None:
    invoice = control.invoice(tenant)
    edit = {"lines": [{**TIME_LINE, "hours": 2}], "dueDate": "2026-12-31"}
    edited = control.call("PATCH", f"/invoices/{invoice['id']}", edit)
    assert (edited["total"], edited["dueDate"]) == (Decimal("240.00"), "2026-12-31")
    assert edited["modifiedTime"] > invoice["modifiedTime"]

    rejected = {"dueDate": "2027-01-31", "currency": "dollars"}
    control.call("PATCH", f"/invoices/{invoice['id']}", rejected, 400)
    assert control.record(invoice["id"])["dueDate"] == "2026-12-31"  # a rejected PATCH changes nothing

    control.move(invoice["id"], "Open")
    assert control.call("PATCH", f"/invoices/{invoice['id']}", edit, 409)["code"] == "CONFLICT"
    control.move(invoice["id"], "Draft")
    control.call("PATCH", f"/invoices/{invoice['id']}", {"number": "INV-9000"})


def test_status_moves_follow_the_lifecycle_and_bump_modified_time(
    control: SandboxControl, tenant: Tenant
) -> None:
    invoice = control.invoice(tenant)
    control.call(
        "POST", f"/invoices/{invoice['id']}/status", {"status": "Sent"}, 409
    )  # Draft must open first
    opened = control.move(invoice["id"], "Open")
    sent = control.move(invoice["id"], "Sent")
    assert invoice["modifiedTime"] < opened["modifiedTime"] < sent["modifiedTime"]
    control.move(invoice["id"], "Void")
    control.call("POST", f"/invoices/{invoice['id']}/status", {"status": "Open"}, 409)  # Void is final


def test_filter_pages_by_modified_time(control: SandboxControl, tenant: Tenant) -> None:
    invoices = []
    for _ in range(5):
        invoices.append(control.invoice(tenant))
        control.advance_clock(60)
    condition = {"property": "modifiedTime", "operation": "GE", "value": invoices[1]["modifiedTime"]}

    def page(offset: int, ascending: bool = True) -> dict[str, object]:
        body = {"properties": [condition], "isAsc": ascending, "limit": 2, "offset": offset}
        return control.public("POST", "/invoices/filter/details", tenant.api_key, body).json()["data"]

    assert [i["number"] for i in page(0)["items"]] == ["INV-0002", "INV-0003"]
    assert [i["number"] for i in page(2)["items"]] == ["INV-0004", "INV-0005"]
    assert page(4) == {"items": [], "total": 4}
    assert [i["number"] for i in page(0, ascending=False)["items"]] == ["INV-0005", "INV-0004"]
    before = {"property": "creationTime", "operation": "LT", "value": invoices[1]["creationTime"]}
    only_first = control.public("POST", "/invoices/filter/details", tenant.api_key, {"properties": [before]})
    assert [i["number"] for i in only_first.json()["data"]["items"]] == ["INV-0001"]


def test_filter_rejects_what_the_contract_does_not_define(control: SandboxControl, tenant: Tenant) -> None:
    for body in (
        since_epoch(limit=0),
        since_epoch(limit=101),
        since_epoch(offset=-1),
        since_epoch(itemType="task"),
        {"properties": [{"property": "number", "operation": "GE", "value": "2026-01-01T00:00:00Z"}]},
        {"properties": [{"property": "modifiedTime", "operation": "GE", "value": "2026-01-01"}]},
    ):
        response = control.public("POST", "/invoices/filter/details", tenant.api_key, body)
        assert response.status_code == 400, body


def test_public_writes_are_stored_and_each_bumps_modified_time(
    control: SandboxControl, tenant: Tenant
) -> None:
    invoice_id = control.move(control.invoice(tenant)["id"], "Open")["id"]
    stamp = "2026-11-02T09:00:00Z"
    writes = [
        (
            "PUT",
            "externalReferences/qbo",
            {
                "realmId": "9130",
                "invoiceId": "145",
                "docNumber": "INV-0001",
                "copiedAt": "2026-11-02T10:00:00+01:00",
            },
        ),
        ("POST", "tags", {"name": "Copied to QBO", "at": stamp, "detail": "QBO invoice 145"}),
        ("PUT", "syncMessage", {"level": "warning", "text": "Not sent: no billing email", "at": stamp}),
        (
            "PUT",
            "paymentState",
            {
                "amountPaid": 100.5,
                "balance": 79.5,
                "status": "PartiallyPaid",
                "lastPaymentDate": "2026-11-20",
            },
        ),
    ]
    modified = control.record(invoice_id)["modifiedTime"]
    for method, path, body in writes:
        response = control.public(method, f"/invoices/{invoice_id}/{path}", tenant.api_key, body)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["modifiedTime"] > modified
        modified = response.json()["data"]["modifiedTime"]

    record = control.record(invoice_id)
    assert record["externalReferences"] == {
        "qbo": {
            "realmId": "9130",
            "invoiceId": "145",
            "docNumber": "INV-0001",
            "copiedAt": "2026-11-02T09:00:00.000Z",
        }
    }
    assert record["tags"] == [
        {"name": "Copied to QBO", "at": "2026-11-02T09:00:00.000Z", "detail": "QBO invoice 145"}
    ]
    assert record["syncMessage"]["level"] == "warning"
    assert (record["status"], record["amountPaid"], record["balance"]) == (
        "PartiallyPaid",
        Decimal("100.50"),
        Decimal("79.50"),
    )
    assert (record["lastPaymentDate"], record["accountId"]) == ("2026-11-20", tenant.account_id)


def test_a_tag_is_replaced_by_one_with_the_same_name(control: SandboxControl, tenant: Tenant) -> None:
    invoice_id = control.invoice(tenant)["id"]
    for detail in ("first", "retry"):
        tag = {"name": "Sent via QBO", "at": "2026-11-02T09:00:00Z", "detail": detail}
        control.public("POST", f"/invoices/{invoice_id}/tags", tenant.api_key, tag)
    assert [tag["detail"] for tag in control.record(invoice_id)["tags"]] == ["retry"]


def test_payment_state_is_checked(control: SandboxControl, tenant: Tenant) -> None:
    invoice_id = control.invoice(tenant)["id"]
    paid = {"amountPaid": 180, "balance": 0, "status": "Paid", "lastPaymentDate": "2026-11-20"}
    path = f"/invoices/{invoice_id}/paymentState"
    assert control.public("PUT", path, tenant.api_key, paid).status_code == 409  # still a Draft
    control.move(invoice_id, "Open")
    assert control.public("PUT", path, tenant.api_key, {**paid, "balance": -1}).status_code == 400
    assert control.public("PUT", path, tenant.api_key, {**paid, "status": "Void"}).status_code == 400
    assert control.public("PUT", path, tenant.api_key, paid).status_code == 200


def test_billing_contact_changes_show_on_invoices(control: SandboxControl, tenant: Tenant) -> None:
    invoice = control.invoice(tenant)
    control.call("PATCH", f"/organizations/{tenant.organization_id}", {"billingContactEmail": None})
    record = control.record(invoice["id"])
    assert record["organization"]["billingContact"] == {"name": "Pat Payer", "email": None}
    assert record["modifiedTime"] == invoice["modifiedTime"]  # the organization changed, not the invoice


def test_injected_faults_fail_the_next_public_requests(control: SandboxControl, tenant: Tenant) -> None:
    control.call("POST", "/faults", {"status": 503, "count": 2})
    statuses = [control.public("GET", "/organization/profileAndPolicy", tenant.api_key) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].json()["code"] == "SERVICE_UNAVAILABLE"


def test_the_request_log_records_public_calls(control: SandboxControl, tenant: Tenant) -> None:
    control.public("GET", "/organization/profileAndPolicy", tenant.api_key)
    control.public("GET", "/invoices/999999", tenant.api_key)
    control.public("GET", "/organization/profileAndPolicy", "wrong")
    log = control.requests_log()
    assert [(e["method"], e["path"], e["accountId"], e["status"]) for e in log] == [
        ("GET", "/rest/public/organization/profileAndPolicy", tenant.account_id, 200),
        ("GET", "/rest/public/invoices/999999", tenant.account_id, 404),
        ("GET", "/rest/public/organization/profileAndPolicy", None, 401),
    ]
    assert all(entry["time"].endswith("Z") for entry in log)


def test_the_clock_advances_and_freezes(control: SandboxControl, tenant: Tenant) -> None:
    frozen = control.call("PUT", "/clock", {"frozen": True})
    first, second = control.invoice(tenant), control.invoice(tenant)
    assert first["creationTime"] == second["creationTime"] == frozen["now"]
    later = control.call("PUT", "/clock", {"advance_seconds": 86400})
    assert later["now"][:10] > frozen["now"][:10]
    control.call("PUT", "/clock", {"advance_seconds": -1}, 400)


def test_reset_forgets_everything(control: SandboxControl, tenant: Tenant) -> None:
    control.invoice(tenant)
    control.public("GET", "/organization/profileAndPolicy", tenant.api_key)
    control.call("POST", "/reset")
    assert control.requests_log() == []
    assert control.public("GET", "/organization/profileAndPolicy", tenant.api_key).status_code == 401


def test_bad_requests_get_json_errors(control: SandboxControl, tenant: Tenant) -> None:
    response = requests.post(
        f"{control.base_url}/invoices/filter/details",
        data=b"{not json",
        headers={"OD-Public-API-Key": tenant.api_key},
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (400, "BAD_REQUEST")
    assert control.public("GET", "/no/such/route", tenant.api_key).json()["code"] == "NOT_FOUND"
    assert control.call("GET", "/no-such-control-route", expect=404)["code"] == "NOT_FOUND"


def test_a_stopped_sandbox_answers_nothing_even_on_open_connections() -> None:
    session = requests.Session()
    with OneDeskSandbox(port=0) as sandbox:
        url = f"{sandbox.base_url}/organization/profileAndPolicy"
        assert session.get(url, timeout=5).status_code == 401  # leaves a keep-alive connection open
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=5)


def test_the_command_line_prints_its_base_url_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.onedesk_sandbox", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/rest/public")
        assert requests.get(f"{base_url}/organization/profileAndPolicy", timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
