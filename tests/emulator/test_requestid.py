"""Idempotent writes with `requestid` (qbo-facts §7)."""

from __future__ import annotations

from decimal import Decimal

from .conftest import CA_REALM, US_REALM, Api, Control, JsonObj, assert_fault, loads, sales_line


def invoice_body(ids: dict[str, str], amount: str = "75.00") -> JsonObj:
    return {"CustomerRef": {"value": ids["amy"]}, "Line": [sales_line(amount, ids["hours"])]}


def test_same_requestid_replays_identical_response(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §7: a second request with the same requestid is not performed again and returns the
    same response as the original (identical body); one object stored."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    first = us.post("invoice", invoice_body(us_ids), requestid="rid-invoice-1")
    second = us.post("invoice", invoice_body(us_ids), requestid="rid-invoice-1")
    assert first.status_code == second.status_code == 200
    assert second.text == first.text
    assert len(ctl.entities(US_REALM, "Invoice")) == before + 1


def test_different_requestids_create_two(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §7: requestids are distinct keys — two ids, two invoices."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    a = loads(us.post("invoice", invoice_body(us_ids), requestid="rid-a"))["Invoice"]
    b = loads(us.post("invoice", invoice_body(us_ids), requestid="rid-b"))["Invoice"]
    assert a["Id"] != b["Id"]
    assert len(ctl.entities(US_REALM, "Invoice")) == before + 2


def test_requestid_replay_for_name_list(us: Api, ctl: Control) -> None:
    """qbo-facts §7 (name lists UNCONF; spec: replayed too): the second customer create with the same
    requestid replays the first response instead of answering 6240."""
    before = len(ctl.entities(US_REALM, "Customer"))
    first = us.post("customer", {"DisplayName": "Idempotent Co"}, requestid="rid-cust-1")
    second = us.post("customer", {"DisplayName": "Idempotent Co"}, requestid="rid-cust-1")
    assert first.status_code == second.status_code == 200
    assert second.text == first.text
    assert len(ctl.entities(US_REALM, "Customer")) == before + 1


def test_requestid_replay_of_update_writes_once(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §7: a replayed sparse update is not applied twice (SyncToken moves once)."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    body = {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "once"}
    first = us.post("invoice", body, requestid="rid-upd-1")
    second = us.post("invoice", body, requestid="rid-upd-1")
    assert first.status_code == second.status_code == 200
    assert second.text == first.text
    assert us.read("Invoice", inv["Id"])["SyncToken"] == "1"


def test_after_commit_fault_then_retry_yields_one_object(
    us: Api, ctl: Control, us_ids: dict[str, str]
) -> None:
    """qbo-facts §7 (+ §6 advice to reuse the requestid on retries): the write commits but its response is
    lost (injected 500 after_commit); the retry with the same requestid returns the committed invoice and
    nothing is duplicated."""
    before = {i["Id"] for i in ctl.entities(US_REALM, "Invoice")}
    ctl.ok(
        "POST",
        "/_sandbox/faults",
        {"method": "POST", "path_regex": "/invoice", "status": 500, "count": 1, "after_commit": True},
    )
    lost = us.post("invoice", invoice_body(us_ids, "33.00"), requestid="rid-lost-1")
    assert lost.status_code == 500
    after_fault = {i["Id"] for i in ctl.entities(US_REALM, "Invoice")} - before
    assert len(after_fault) == 1, "after_commit must perform the write"
    retry = us.post("invoice", invoice_body(us_ids, "33.00"), requestid="rid-lost-1")
    assert retry.status_code == 200, retry.text
    inv = loads(retry)["Invoice"]
    assert {inv["Id"]} == after_fault
    assert inv["TotalAmt"] == Decimal("33.00")
    assert {i["Id"] for i in ctl.entities(US_REALM, "Invoice")} - before == after_fault


def test_requestid_scoped_per_realm(us: Api, ca: Api, ctl: Control) -> None:
    """qbo-facts §7: the requestid must be unique per company — the same id in another realm is a new
    request."""
    us.post("customer", {"DisplayName": "Realm Scoped"}, requestid="rid-shared")
    resp = ca.post("customer", {"DisplayName": "Realm Scoped"}, requestid="rid-shared")
    assert resp.status_code == 200, resp.text
    assert any(c["DisplayName"] == "Realm Scoped" for c in ctl.entities(CA_REALM, "Customer"))


def test_requestid_over_50_chars_is_rejected(us: Api, ctl: Control) -> None:
    """qbo-facts §7: requestid max 50 chars; longer ⇒ 400 (spec: 2050-style); nothing written."""
    before = len(ctl.entities(US_REALM, "Customer"))
    assert us.post("customer", {"DisplayName": "Fifty"}, requestid="r" * 50).status_code == 200
    assert_fault(us.post("customer", {"DisplayName": "Fifty One"}, requestid="r" * 51), "2050")
    assert len(ctl.entities(US_REALM, "Customer")) == before + 1


def test_requestid_retention_expires(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §7 (retention UNCONF; spec default 24 h of emulator clock): after 25 h the same requestid is
    a new request."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    first = loads(us.post("invoice", invoice_body(us_ids), requestid="rid-old"))["Invoice"]
    ctl.clock(advance_seconds=25 * 3600)
    us.use_token(ctl.token(US_REALM)["access_token"])
    second = loads(us.post("invoice", invoice_body(us_ids), requestid="rid-old"))["Invoice"]
    assert second["Id"] != first["Id"]
    assert len(ctl.entities(US_REALM, "Invoice")) == before + 2


def test_requestid_recorded_in_request_log(us: Api, ctl: Control) -> None:
    """Spec /_sandbox/requests: data-API writes are logged with their requestid and status."""
    us.post("customer", {"DisplayName": "Logged Co"}, requestid="rid-log-1")
    entries = [e for e in ctl.request_log(US_REALM) if e.get("requestid") == "rid-log-1"]
    assert len(entries) == 1
    assert entries[0]["status"] == 200
    assert entries[0]["method"] == "POST"
    assert entries[0]["path"].endswith("/customer")
