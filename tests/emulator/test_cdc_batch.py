"""Change data capture and batch (qbo-facts §1, §5, §9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from .conftest import US_REALM, Api, Control, JsonObj, fault_error, loads, parse_ts, sales_line


def server_now(us: Api) -> datetime:
    """The emulator's current time, from a response's top-level `time`."""
    return parse_ts(loads(us.get(f"companyinfo/{US_REALM}"))["time"])


def cdc(us: Api, entities: str, since: datetime | str) -> JsonObj:
    value = since if isinstance(since, str) else since.isoformat()
    resp = us.get("cdc", entities=entities, changedSince=value)
    assert resp.status_code == 200, resp.text
    body: JsonObj = loads(resp)
    return body


def changed(body: JsonObj, entity: str) -> list[JsonObj]:
    groups = body["CDCResponse"][0]["QueryResponse"]
    return [obj for group in groups for obj in group.get(entity, [])]


def test_cdc_shape(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §9: {"CDCResponse":[{"QueryResponse":[{"Invoice":[...]...},{"Customer":[...]}]}],"time"}
    — one QueryResponse object per requested entity, full entity payloads."""
    since = server_now(us) - timedelta(seconds=30)
    inv = us.invoice(us_ids["amy"], [sales_line("64.00", us_ids["hours"])])
    cust = us.create("Customer", {"DisplayName": "CDC Customer"})
    body = cdc(us, "Invoice,Customer", since)
    assert "time" in body
    groups = body["CDCResponse"][0]["QueryResponse"]
    assert isinstance(groups, list)
    assert len(groups) == 2
    invoices = changed(body, "Invoice")
    assert [i["Id"] for i in invoices] == [inv["Id"]]
    assert invoices[0]["TotalAmt"] == Decimal("64.00")
    assert invoices[0]["SyncToken"] == "0"
    assert [c["Id"] for c in changed(body, "Customer")] == [cust["Id"]]


def test_cdc_entity_without_changes_is_empty_object(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §9: an entity with no changes contributes an empty {} QueryResponse."""
    since = server_now(us) - timedelta(seconds=30)
    us.invoice(us_ids["amy"], [sales_line("1.00", us_ids["hours"])])
    groups = cdc(us, "Invoice,Payment", since)["CDCResponse"][0]["QueryResponse"]
    assert len(groups) == 2
    assert {} in groups
    assert not any("Payment" in group for group in groups)


def test_cdc_returns_latest_version_and_respects_since(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §9: changes since `changedSince` only, as full current payloads (an updated invoice comes
    back with its new SyncToken; an untouched older one is absent)."""
    old = us.invoice(us_ids["amy"], [sales_line("5.00", us_ids["hours"])])
    touched = us.invoice(us_ids["amy"], [sales_line("6.00", us_ids["hours"])])
    ctl.clock(advance_seconds=7200)
    us.use_token(ctl.token(US_REALM)["access_token"])
    since = server_now(us) - timedelta(seconds=30)
    us.update("Invoice", {"Id": touched["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "edited"})
    invoices = changed(cdc(us, "Invoice", since), "Invoice")
    assert [i["Id"] for i in invoices] == [touched["Id"]]
    assert invoices[0]["SyncToken"] == "1"
    assert invoices[0]["PrivateNote"] == "edited"
    assert old["Id"] not in {i["Id"] for i in invoices}


def test_cdc_older_than_30_days_is_400(us: Api) -> None:
    """qbo-facts §9: look-back max 30 days ⇒ 31 days ago ⇒ 400 Fault; 29 days ago is fine."""
    now = server_now(us)
    resp = us.get("cdc", entities="Invoice", changedSince=(now - timedelta(days=31)).isoformat())
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
    ok = us.get("cdc", entities="Invoice", changedSince=(now - timedelta(days=29)).isoformat())
    assert ok.status_code == 200, ok.text


def test_cdc_requires_changed_since(us: Api) -> None:
    """qbo-facts §9 / spec: changedSince is required ⇒ 400 without it."""
    resp = us.get("cdc", entities="Invoice")
    assert resp.status_code == 400
    assert "Fault" in loads(resp)


def test_cdc_accepts_plain_date(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §9: changedSince may be an ISO date (or datetime with offset)."""
    inv = us.invoice(us_ids["amy"], [sales_line("2.00", us_ids["hours"])])
    yesterday = (server_now(us) - timedelta(days=1)).date().isoformat()
    assert inv["Id"] in {i["Id"] for i in changed(cdc(us, "Invoice", yesterday), "Invoice")}


def batch_items(resp_body: JsonObj) -> dict[str, JsonObj]:
    return {item["bId"]: item for item in resp_body["BatchItemResponse"]}


def test_batch_with_per_item_fault_in_200(us: Api, ctl: Control) -> None:
    """qbo-facts §1 batch + §5 (HTTP 200 can carry per-item Faults): create ok, duplicate name ⇒ item Fault
    6240, query item ⇒ QueryResponse; all in one 200 keyed by bId."""
    body = {
        "BatchItemRequest": [
            {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
            {"bId": "b2", "operation": "create", "Customer": {"DisplayName": "Amy's Bird Sanctuary"}},
            {"bId": "b3", "Query": r"SELECT * FROM Customer WHERE DisplayName = 'Bill\'s Windsurf Shop'"},
        ]
    }
    resp = us.post("batch", body)
    assert resp.status_code == 200, resp.text
    items = batch_items(loads(resp))
    assert set(items) == {"b1", "b2", "b3"}
    created = items["b1"]["Customer"]
    assert created["DisplayName"] == "Batch One"
    assert created["SyncToken"] == "0"
    assert ctl.entity(US_REALM, "Customer", created["Id"])["DisplayName"] == "Batch One"
    assert "Fault" not in items["b1"]
    assert fault_error(items["b2"])["code"] == "6240"
    assert items["b2"]["Fault"]["type"] == "ValidationFault"
    rows = items["b3"]["QueryResponse"]["Customer"]
    assert [r["DisplayName"] for r in rows] == ["Bill's Windsurf Shop"]


def test_batch_update_and_delete(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §1 batch: update (sparse) and delete items; a stale SyncToken item faults with 5010."""
    a = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    b = us.invoice(us_ids["amy"], [sales_line("20.00", us_ids["hours"])])
    body = {
        "BatchItemRequest": [
            {
                "bId": "u1",
                "operation": "update",
                "Invoice": {"Id": a["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "batched"},
            },
            {"bId": "d1", "operation": "delete", "Invoice": {"Id": b["Id"], "SyncToken": "0"}},
            {
                "bId": "s1",
                "operation": "update",
                "Invoice": {"Id": a["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "stale"},
            },
        ]
    }
    resp = us.post("batch", body)
    assert resp.status_code == 200, resp.text
    items = batch_items(loads(resp))
    assert items["u1"]["Invoice"]["PrivateNote"] == "batched"
    assert items["u1"]["Invoice"]["SyncToken"] == "1"
    assert items["d1"]["Invoice"]["status"] == "Deleted"
    assert fault_error(items["s1"])["code"] == "5010"
    assert all(i["Id"] != b["Id"] for i in ctl.entities(US_REALM, "Invoice"))
    assert ctl.entity(US_REALM, "Invoice", a["Id"])["PrivateNote"] == "batched"


def test_cdc_over_1000_objects_is_400(us: Api, ctl: Control) -> None:
    """qbo-facts §9: a CDC response holds at most 1000 objects ⇒ more ⇒ 400 asking for a shorter window."""
    ctl.ok("PUT", "/_sandbox/limits", {"max_in_flight": 10, "max_per_minute": 100000, "window_seconds": 60})
    since = server_now(us) - timedelta(seconds=30)
    for start in range(0, 1001, 30):
        items = [
            {"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"Cdc Bulk {n:04d}"}}
            for n in range(start, min(start + 30, 1001))
        ]
        resp = us.post("batch", {"BatchItemRequest": items})
        assert resp.status_code == 200, resp.text
        assert all("Fault" not in item for item in loads(resp)["BatchItemResponse"])
    resp = us.get("cdc", entities="Customer", changedSince=since.isoformat())
    assert resp.status_code == 400, resp.text[:500]
    assert "Fault" in loads(resp)


def test_cdc_not_supported_for_taxcode(us: Api) -> None:
    """qbo-facts §2 TaxCode/§9: TaxCode and TaxRate are not available via CDC ⇒ 400 Fault."""
    since = (server_now(us) - timedelta(days=1)).isoformat()
    resp = us.get("cdc", entities="TaxCode", changedSince=since)
    assert resp.status_code == 400, resp.text
    assert "Fault" in loads(resp)
