"""Validation faults and injected faults (qbo-facts §2, §3, §5)."""

from __future__ import annotations

import pytest

from .conftest import CA_REALM, US_REALM, Api, Control, assert_fault, loads, sales_line


def count(ctl: Control, entity: str, realm: str = US_REALM) -> int:
    return len(ctl.entities(realm, entity))


def test_fault_body_shape(us: Api) -> None:
    """qbo-facts §5 body shape: {"Fault":{"Error":[{"Message","Detail","code"(string),"element"}],
    "type":"ValidationFault"},"time"} with HTTP 400."""
    resp = us.get("invoice/99999")
    assert resp.status_code == 400
    body = loads(resp)
    assert body["Fault"]["type"] == "ValidationFault"
    err = body["Fault"]["Error"][0]
    assert set(err) >= {"Message", "Detail", "code"}
    assert "element" in err
    assert err["code"] == "610"
    assert isinstance(body["time"], str)
    assert "application/json" in resp.headers.get("Content-Type", "")


@pytest.mark.parametrize(
    "name",
    [
        "Bill's Windsurf Shop",  # another customer
        "BILL'S WINDSURF SHOP",  # case-insensitive
        "Norton Lumber and Building Materials",  # a vendor
        "Emily Platt",  # an employee
        "Old Customer",  # inactive customer
    ],
)
def test_duplicate_customer_name_is_6240(us: Api, ctl: Control, name: str) -> None:
    """qbo-facts §2 Customer/§5/§13.2: DisplayName is unique across Customer, Vendor and Employee ⇒ 6240
    "Duplicate Name Exists Error" (spec: case-insensitive, inactive included); nothing created."""
    before = count(ctl, "Customer")
    err = assert_fault(us.post("customer", {"DisplayName": name}), "6240")
    assert "Duplicate Name Exists Error" in err["Message"]
    assert "The name supplied already exists" in err["Detail"]
    assert "Another customer, vendor or employee is already using this name" in err["Detail"]
    assert count(ctl, "Customer") == before


def test_duplicate_vendor_name_is_6240(us: Api, ctl: Control) -> None:
    """qbo-facts §5 6240: a Vendor whose DisplayName matches a customer ⇒ 6240."""
    before = count(ctl, "Vendor")
    assert_fault(us.post("vendor", {"DisplayName": "Amy's Bird Sanctuary"}), "6240")
    assert count(ctl, "Vendor") == before


def test_customer_name_may_repeat_across_realms(us: Api, ca: Api) -> None:
    """qbo-facts §2: uniqueness is per company — a name taken in the US realm is free in the CA one."""
    us.create("Customer", {"DisplayName": "Only Unique Per Realm"})
    cust = ca.create("Customer", {"DisplayName": "Only Unique Per Realm"})
    assert cust["DisplayName"] == "Only Unique Per Realm"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("DisplayName", "Acme: Main"),
        ("DisplayName", "Acme\tMain"),
        ("DisplayName", "Acme\nMain"),
        ("GivenName", "Jo:hn"),
        ("FamilyName", "Sm\nith"),
    ],
)
def test_invalid_characters_in_names_are_6000(us: Api, ctl: Control, field: str, value: str) -> None:
    """qbo-facts §2 Customer: DisplayName/GivenName/FamilyName must not contain colon, tab or newline ⇒
    400 6000 "Business Validation Error", Detail naming the field; nothing created."""
    before = count(ctl, "Customer")
    body = {"DisplayName": "Valid Name", field: value}
    err = assert_fault(us.post("customer", body), "6000")
    assert "Business Validation Error" in err["Message"]
    assert field in err["Detail"]
    assert count(ctl, "Customer") == before


def test_display_name_over_500_is_2050(us: Api, ctl: Control) -> None:
    """qbo-facts §2 Customer: DisplayName max 500 chars; 501 ⇒ 2050; exactly 500 is accepted."""
    before = count(ctl, "Customer")
    assert_fault(us.post("customer", {"DisplayName": "N" * 501}), "2050")
    assert count(ctl, "Customer") == before
    ok = us.create("Customer", {"DisplayName": "N" * 500})
    assert len(ok["DisplayName"]) == 500


def test_invoice_without_line_is_2020(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Invoice/§5: missing Line ⇒ 2020 "Required parameter Line is missing"."""
    before = count(ctl, "Invoice")
    err = assert_fault(us.post("invoice", {"CustomerRef": {"value": us_ids["amy"]}}), "2020")
    assert "Line" in f"{err['Message']} {err.get('Detail', '')} {err.get('element', '')}"
    assert count(ctl, "Invoice") == before


def test_invoice_without_customer_is_2020(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Invoice: CustomerRef is required ⇒ 2020 (spec)."""
    assert_fault(us.post("invoice", {"Line": [sales_line("10.00", us_ids["hours"])]}), "2020")


@pytest.mark.parametrize("entity", ["customer", "invoice", "item", "payment"])
def test_read_unknown_id_is_610(us: Api, entity: str) -> None:
    """qbo-facts §5: unknown Id on read ⇒ 400 610 "Object Not Found"."""
    err = assert_fault(us.get(f"{entity}/55555"), "610")
    assert "Object Not Found" in err["Message"]


def test_update_unknown_id_is_610(us: Api) -> None:
    """qbo-facts §5: update of an unknown Id ⇒ 400 610."""
    assert_fault(us.post("customer", {"Id": "55555", "SyncToken": "0", "sparse": True, "Notes": "x"}), "610")


def test_stale_synctoken_is_5010(us: Api, ctl: Control) -> None:
    """qbo-facts §3: an update with an old SyncToken ⇒ 400 ValidationFault 5010 "Stale Object Error";
    the stored object keeps the winning write."""
    cust = us.create("Customer", {"DisplayName": "Race Co"})
    us.update("Customer", {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "winner"})
    resp = us.post("customer", {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "loser"})
    err = assert_fault(resp, "5010")
    assert "Stale Object Error" in err["Message"]
    assert loads(resp)["Fault"]["type"] == "ValidationFault"
    stored = ctl.entity(US_REALM, "Customer", cust["Id"])
    assert stored["Notes"] == "winner"
    assert stored["SyncToken"] == "1"


def test_item_rules(us: Api, ctl: Control) -> None:
    """qbo-facts §2 Item (+ spec): Type required (2020), Service needs IncomeAccountRef (2020), Name unique
    (6240), Name ≤ 100 (2050), ':' in Name ⇒ 6000."""
    before = count(ctl, "Item")
    assert_fault(us.post("item", {"Name": "No Type", "IncomeAccountRef": {"value": "79"}}), "2020")
    assert_fault(us.post("item", {"Name": "No Account", "Type": "Service"}), "2020")
    assert_fault(
        us.post("item", {"Name": "Hours", "Type": "Service", "IncomeAccountRef": {"value": "79"}}), "6240"
    )
    assert_fault(
        us.post("item", {"Name": "I" * 101, "Type": "Service", "IncomeAccountRef": {"value": "79"}}), "2050"
    )
    assert_fault(
        us.post("item", {"Name": "A:B", "Type": "Service", "IncomeAccountRef": {"value": "79"}}), "6000"
    )
    assert count(ctl, "Item") == before


def test_injected_fault_hits_next_matching_requests_only(us: Api, ca: Api, ctl: Control) -> None:
    """Spec control API /_sandbox/faults (qbo-facts §5 503/500 handling): the next `count` matching data
    requests fail with the status; other realms and later requests are unaffected."""
    fault = ctl.ok(
        "POST",
        "/_sandbox/faults",
        {"path_regex": "companyinfo", "realmId": US_REALM, "status": 503, "count": 2},
    )
    assert "id" in fault
    assert ca.get(f"companyinfo/{CA_REALM}").status_code == 200
    assert us.get(f"companyinfo/{US_REALM}").status_code == 503
    assert us.get("preferences").status_code == 200
    assert us.get(f"companyinfo/{US_REALM}").status_code == 503
    assert us.get(f"companyinfo/{US_REALM}").status_code == 200


def test_injected_500_has_qbo_body_and_commits_nothing(us: Api, ctl: Control) -> None:
    """Spec /_sandbox/faults (qbo-facts §5 SystemFault 10000): an injected 500 without after_commit does not
    perform the write and carries a QBO-shaped JSON Fault body."""
    ctl.ok(
        "POST", "/_sandbox/faults", {"method": "POST", "path_regex": "/customer", "status": 500, "count": 1}
    )
    before = count(ctl, "Customer")
    resp = us.post("customer", {"DisplayName": "Never Stored"})
    assert resp.status_code == 500
    assert "Fault" in loads(resp)
    assert count(ctl, "Customer") == before
    ctl.ok("DELETE", "/_sandbox/faults")
    assert us.post("customer", {"DisplayName": "Never Stored"}).status_code == 200


def test_delete_faults_clears_pending(us: Api, ctl: Control) -> None:
    """Spec DELETE /_sandbox/faults: pending injected faults are cleared."""
    ctl.ok("POST", "/_sandbox/faults", {"status": 503, "count": 5})
    ctl.ok("DELETE", "/_sandbox/faults")
    assert us.get(f"companyinfo/{US_REALM}").status_code == 200


def test_malformed_json_is_400_fault(us: Api, ctl: Control) -> None:
    """qbo-facts §5 (request errors come back as a Fault body, not a server crash): malformed JSON ⇒ 400
    with a JSON Fault; nothing created."""
    before = count(ctl, "Customer")
    resp = us.request("POST", "customer", data='{"DisplayName": "Broken', content_type="application/json")
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
    assert count(ctl, "Customer") == before


def test_non_utf8_body_is_rejected(us: Api, ctl: Control) -> None:
    """qbo-facts §1 headers: a non-UTF-8 body yields fault code 500 "Unsupported Operation" (HTTP status
    UNCONF, 400 or 500); nothing created."""
    before = count(ctl, "Customer")
    resp = us.request(
        "POST",
        "customer",
        data='{"DisplayName": "Caf\xe9 Latin1"}'.encode("latin-1"),
        content_type="application/json",
    )
    assert resp.status_code in (400, 500), resp.text
    assert loads(resp)["Fault"]["Error"][0]["code"] == "500"
    assert count(ctl, "Customer") == before


def test_customer_invalid_email_is_rejected(us: Api, ctl: Control) -> None:
    """qbo-facts §2 Customer: PrimaryEmailAddr must contain '@' and '.' ⇒ 400; nothing created."""
    before = count(ctl, "Customer")
    resp = us.post("customer", {"DisplayName": "Bad Mail", "PrimaryEmailAddr": {"Address": "nobody"}})
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
    assert count(ctl, "Customer") == before


def test_sales_line_without_amount_is_rejected(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 SalesItemLineDetail: Amount is required on a sales line ⇒ 400 (2020 required param)."""
    line = {
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": us_ids["hours"]}},
    }
    resp = us.post("invoice", {"CustomerRef": {"value": us_ids["amy"]}, "Line": [line]})
    assert_fault(resp, "2020")


def test_update_without_synctoken_is_rejected(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §3: updates carry Id and SyncToken; without SyncToken ⇒ 400; object unchanged."""
    resp = us.post("customer", {"Id": us_ids["bill"], "sparse": True, "Notes": "no token"})
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
    assert ctl.entity(US_REALM, "Customer", us_ids["bill"])["SyncToken"] == "0"
