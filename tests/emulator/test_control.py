"""The control API's seeded companies and reset (spec "Seeded state", qbo-facts §12 sandbox companies)."""

from __future__ import annotations

from .conftest import CA_REALM, US_REALM, Api, Control, JsonObj, sales_line


def companies(ctl: Control) -> list[JsonObj]:
    found: list[JsonObj] = ctl.ok("GET", "/_sandbox/companies")
    return found


def test_seeded_companies(ctl: Control) -> None:
    """Spec seed (qbo-facts §12: a US and a CA sandbox company with different tax models)."""
    by_realm = {c["realmId"]: c for c in companies(ctl)}
    assert by_realm[US_REALM]["name"] == "Sandbox Company US"
    assert by_realm[US_REALM]["country"] == "US"
    assert by_realm[CA_REALM]["name"] == "Sandbox Company CA"
    assert by_realm[CA_REALM]["country"] == "CA"


def test_new_company_is_seeded_and_usable(base_url: str, ctl: Control) -> None:
    """Spec POST /_sandbox/companies (qbo-facts §2 CustomTxnNumbers): a new CA company with
    custom_txn_numbers true has the seed (customers, items, tax codes) and leaves DocNumber absent."""
    created = ctl.ok(
        "POST", "/_sandbox/companies", {"name": "Extra CA", "country": "CA", "custom_txn_numbers": True}
    )
    realm = created["realmId"]
    assert realm not in (US_REALM, CA_REALM)
    assert any(c["realmId"] == realm and c["name"] == "Extra CA" for c in companies(ctl))
    api = Api(base_url, realm, ctl.token(realm)["access_token"])
    amy = ctl.find_id(realm, "Customer", "Amy's Bird Sanctuary")
    hours = ctl.find_id(realm, "Item", "Hours")
    inv = api.invoice(amy, [sales_line("10.00", hours, tax="3")], GlobalTaxCalculation="TaxExcluded")
    assert "DocNumber" not in inv
    assert api.read("CompanyInfo", realm)["CompanyName"] == "Extra CA"


def test_reset_restores_seed(us: Api, ctl: Control) -> None:
    """Spec POST /_sandbox/reset: created objects, extra companies and the request log are gone."""
    us.create("Customer", {"DisplayName": "Before Reset"})
    extra = ctl.ok("POST", "/_sandbox/companies", {"name": "Temp US", "country": "US"})["realmId"]
    ctl.ok("POST", "/_sandbox/reset")
    names = [c["DisplayName"] for c in ctl.entities(US_REALM, "Customer")]
    assert "Before Reset" not in names
    assert sorted(names) == ["Amy's Bird Sanctuary", "Bill's Windsurf Shop", "Old Customer"]
    assert extra not in {c["realmId"] for c in companies(ctl)}
    assert ctl.request_log() == []


def test_entities_endpoint_includes_inactive_and_voided(
    us: Api, ctl: Control, us_ids: dict[str, str]
) -> None:
    """Spec GET /_sandbox/entities (qbo-facts §3 void keeps the invoice, §2 inactive name lists)."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    us.post("invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="void")
    assert ctl.entity(US_REALM, "Invoice", inv["Id"])["Balance"] == 0
    assert ctl.entity(US_REALM, "Customer", us_ids["old"])["Active"] is False
