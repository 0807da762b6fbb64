"""Server-computed fields, envelopes and write semantics (qbo-facts §1, §2, §3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .conftest import (
    CA_REALM,
    OFFSET_TS,
    US_REALM,
    Api,
    Control,
    assert_fault,
    loads,
    parse_ts,
    sales_line,
    sales_lines,
)


def test_create_customer_envelope_and_server_fields(us: Api) -> None:
    """qbo-facts §1 envelope / §3 create: string Id, SyncToken "0", domain QBO, sparse false,
    MetaData offset timestamps and a top-level offset `time`."""
    resp = us.post("customer", {"DisplayName": "Envelope Test"})
    assert resp.status_code == 200, resp.text
    body = loads(resp)
    assert set(body) >= {"Customer", "time"}
    assert OFFSET_TS.match(body["time"]), body["time"]
    cust = body["Customer"]
    assert isinstance(cust["Id"], str) and cust["Id"].isdigit()
    assert cust["SyncToken"] == "0"
    assert cust["domain"] == "QBO"
    assert cust["sparse"] is False
    assert cust["DisplayName"] == "Envelope Test"
    meta = cust["MetaData"]
    assert OFFSET_TS.match(meta["CreateTime"]), meta
    assert OFFSET_TS.match(meta["LastUpdatedTime"]), meta
    assert parse_ts(meta["LastUpdatedTime"]) >= parse_ts(meta["CreateTime"])


def test_read_returns_stored_object(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §1 path shapes: GET /{entity}/{id} returns the object wrapped under its name."""
    created = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    read = us.read("Invoice", created["Id"])
    assert read["Id"] == created["Id"]
    assert read["SyncToken"] == created["SyncToken"]
    assert read["TotalAmt"] == Decimal("10.00")
    assert read["CustomerRef"]["value"] == us_ids["amy"]


def test_ids_are_distinct_strings(us: Api) -> None:
    """qbo-facts §1 envelope: Id is a string and each create gets a new one."""
    ids = [us.create("Customer", {"DisplayName": f"Distinct {n}"})["Id"] for n in range(3)]
    assert all(isinstance(i, str) for i in ids)
    assert len(set(ids)) == 3


def test_synctoken_increments_on_every_write_including_send(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §3: each successful write increments SyncToken ("0","1",...); §8: /send is a write."""
    inv = us.invoice(
        us_ids["amy"], [sales_line("25.00", us_ids["hours"])], BillEmail={"Address": "amy@example.com"}
    )
    assert inv["SyncToken"] == "0"
    inv = us.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "one"})
    assert inv["SyncToken"] == "1"
    full = {
        "Id": inv["Id"],
        "SyncToken": "1",
        "CustomerRef": {"value": us_ids["amy"]},
        "Line": [sales_line("30.00", us_ids["hours"])],
        "BillEmail": {"Address": "amy@example.com"},
    }
    inv = us.update("Invoice", full)
    assert inv["SyncToken"] == "2"
    resp = us.send(inv["Id"])
    assert resp.status_code == 200, resp.text
    assert loads(resp)["Invoice"]["SyncToken"] == "3"
    assert us.read("Invoice", inv["Id"])["SyncToken"] == "3"


def test_metadata_last_updated_moves_with_emulator_clock(us: Api, ctl: Control) -> None:
    """qbo-facts §3 + spec MetaData: LastUpdatedTime follows the emulator clock on update;
    CreateTime stays."""
    cust = us.create("Customer", {"DisplayName": "Clocked"})
    ctl.clock(advance_seconds=3600)
    us.use_token(ctl.token(US_REALM)["access_token"])  # the old one expired with the hour (§11)
    upd = us.update("Customer", {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "later"})
    assert upd["MetaData"]["CreateTime"] == cust["MetaData"]["CreateTime"]
    delta = parse_ts(upd["MetaData"]["LastUpdatedTime"]) - parse_ts(cust["MetaData"]["LastUpdatedTime"])
    assert timedelta(minutes=59) < delta < timedelta(minutes=70)


def test_docnumber_autonumbered_when_custom_txn_numbers_off(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §2 Invoice: DocNumber auto-assigned when omitted and CustomTxnNumbers is off (CA realm:
    1001, 1002, ... per the spec)."""
    line = sales_line("10.00", ca_ids["hours"], tax="3")
    first = ca.invoice(ca_ids["amy"], [line], GlobalTaxCalculation="TaxExcluded")
    second = ca.invoice(ca_ids["amy"], [line], GlobalTaxCalculation="TaxExcluded")
    assert first["DocNumber"] == "1001"
    assert second["DocNumber"] == "1002"


def test_docnumber_absent_when_custom_txn_numbers_on(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2/§13.6: with CustomTxnNumbers on (US realm) an omitted DocNumber is not generated."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    assert "DocNumber" not in inv


def test_docnumber_supplied_is_kept(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Invoice: a supplied DocNumber (≤ 21 chars) is stored as sent."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])], DocNumber="OD-000000000000000021")
    assert inv["DocNumber"] == "OD-000000000000000021"
    assert len(inv["DocNumber"]) == 21


def test_docnumber_over_21_chars_is_2050(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2/§5: DocNumber max 21 chars; longer ⇒ 400 code 2050 "Length exceeds limit"."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    resp = us.post(
        "invoice",
        {
            "CustomerRef": {"value": us_ids["amy"]},
            "Line": [sales_line("10.00", us_ids["hours"])],
            "DocNumber": "X" * 22,
        },
    )
    assert_fault(resp, "2050")
    assert len(ctl.entities(US_REALM, "Invoice")) == before


def test_txndate_defaults_to_emulator_date(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §2: TxnDate defaults to the server date — the emulator clock's date (spec)."""
    first = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    assert first["TxnDate"] == first["MetaData"]["CreateTime"][:10]
    ctl.clock(advance_seconds=2 * 86400)
    us.use_token(ctl.token(US_REALM)["access_token"])
    second = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    gap = date.fromisoformat(second["TxnDate"]) - date.fromisoformat(first["TxnDate"])
    assert gap == timedelta(days=2)


def test_txndate_supplied_is_kept(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2: TxnDate (YYYY-MM-DD) is writable."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])], TxnDate="2026-01-15")
    assert inv["TxnDate"] == "2026-01-15"


def test_subtotal_line_line_ids_and_totals(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 Invoice: each sales line gets Id and LineNum; a server SubTotalLineDetail line is
    appended; TotalAmt = Balance = sum of lines on create; EmailStatus NotSet; LinkedTxn []."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("100.00", us_ids["hours"]), sales_line("50.50", us_ids["design"])],
    )
    sales = sales_lines(inv)
    assert [ln["LineNum"] for ln in sales] == [1, 2]
    assert all(isinstance(ln["Id"], str) and ln["Id"] for ln in sales)
    assert len({ln["Id"] for ln in sales}) == 2
    subtotal = [ln for ln in inv["Line"] if ln["DetailType"] == "SubTotalLineDetail"]
    assert len(subtotal) == 1
    assert subtotal[0]["Amount"] == Decimal("150.50")
    assert "SubTotalLineDetail" in subtotal[0]
    assert inv["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert inv["TotalAmt"] == Decimal("150.50")
    assert inv["Balance"] == Decimal("150.50")
    assert inv["EmailStatus"] == "NotSet"
    assert inv.get("LinkedTxn", []) == []


def test_amounts_are_json_numbers(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §1 envelope: amounts are JSON numbers (parsed here as Decimal), Ids/SyncToken strings."""
    resp = us.post(
        "invoice",
        {"CustomerRef": {"value": us_ids["amy"]}, "Line": [sales_line("12.34", us_ids["hours"])]},
    )
    inv = loads(resp)["Invoice"]
    assert isinstance(inv["TotalAmt"], Decimal)
    assert inv["TotalAmt"] == Decimal("12.34")
    assert isinstance(sales_lines(inv)[0]["Amount"], Decimal)
    assert '"TotalAmt": "' not in resp.text and '"TotalAmt":"' not in resp.text


def test_us_line_without_taxcode_defaults_to_non(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2: US sales lines get TaxCodeRef NON when none is sent; TxnTaxDetail.TotalTax 0."""
    inv = us.invoice(us_ids["amy"], [sales_line("40.00", us_ids["hours"])])
    assert sales_lines(inv)[0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "NON"
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("0")
    assert inv["TotalAmt"] == Decimal("40.00")


def test_sparse_update_changes_only_given_fields(us: Api) -> None:
    """qbo-facts §3: sparse update (`"sparse": true`) changes only the supplied fields."""
    cust = us.create("Customer", {"DisplayName": "Sparse Co", "CompanyName": "Sparse Ltd", "Notes": "n1"})
    upd = us.update(
        "Customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"], "sparse": True, "Notes": "n2"}
    )
    assert upd["Notes"] == "n2"
    assert upd["CompanyName"] == "Sparse Ltd"
    assert upd["DisplayName"] == "Sparse Co"
    assert upd["SyncToken"] == "1"


def test_full_update_clears_omitted_fields(us: Api) -> None:
    """qbo-facts §3: full update — omitted writable fields are set to NULL."""
    cust = us.create("Customer", {"DisplayName": "Full Co", "CompanyName": "Full Ltd", "Notes": "keep?"})
    upd = us.update("Customer", {"Id": cust["Id"], "SyncToken": "0", "DisplayName": "Full Co"})
    assert upd["SyncToken"] == "1"
    assert upd.get("CompanyName") in (None, "")
    assert upd.get("Notes") in (None, "")


def test_full_update_replaces_invoice_lines_and_recomputes(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 + §2: an update's Line array replaces the lines; TotalAmt/Balance recomputed."""
    inv = us.invoice(
        us_ids["amy"], [sales_line("100.00", us_ids["hours"]), sales_line("5.00", us_ids["hours"])]
    )
    upd = us.update(
        "Invoice",
        {
            "Id": inv["Id"],
            "SyncToken": inv["SyncToken"],
            "sparse": True,
            "Line": [sales_line("70.00", us_ids["design"])],
        },
    )
    assert len(sales_lines(upd)) == 1
    assert upd["TotalAmt"] == Decimal("70.00")
    assert upd["Balance"] == Decimal("70.00")


def test_tolerates_sdk_default_fields(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 (PYQB to_json): read-only defaults like Balance 0, TotalAmt "", Deposit 0 are ignored
    and recomputed, not rejected."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("20.00", us_ids["hours"])],
        Balance=0,
        TotalAmt="",
        Deposit=0,
        EmailStatus="NotSet",
        PrintStatus="NotSet",
        ExchangeRate=1,
        HomeBalance=0,
    )
    assert inv["TotalAmt"] == Decimal("20.00")
    assert inv["Balance"] == Decimal("20.00")


def test_customer_inactivated_not_deleted(us: Api, ctl: Control) -> None:
    """qbo-facts §2 Customer/§3: name lists are never hard-deleted; Active false via sparse update keeps
    the object (visible through the entities endpoint and a read)."""
    cust = us.create("Customer", {"DisplayName": "Going Away"})
    assert cust["Active"] is True
    upd = us.update("Customer", {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert upd["Active"] is False
    stored = ctl.entity(US_REALM, "Customer", cust["Id"])
    assert stored["Active"] is False
    assert us.read("Customer", cust["Id"])["Active"] is False


def test_vendor_create_and_employee_read(us: Api, ctl: Control) -> None:
    """Spec entities + qbo-facts §2: Vendor create/read works; the seeded Employee reads by Id."""
    vendor = us.create("Vendor", {"DisplayName": "Paper Supplies Inc"})
    assert vendor["SyncToken"] == "0"
    assert us.read("Vendor", vendor["Id"])["DisplayName"] == "Paper Supplies Inc"
    emp_id = ctl.find_id(US_REALM, "Employee", "Emily Platt")
    assert us.read("Employee", emp_id)["DisplayName"] == "Emily Platt"


def test_item_create_service(us: Api) -> None:
    """qbo-facts §2 Item: Service item with Name, Type and IncomeAccountRef is created."""
    item = us.create("Item", {"Name": "Consulting", "Type": "Service", "IncomeAccountRef": {"value": "79"}})
    assert item["Name"] == "Consulting"
    assert item["Type"] == "Service"
    assert item["IncomeAccountRef"]["value"] == "79"
    assert item["SyncToken"] == "0"


def test_companyinfo_and_preferences_per_realm(us: Api, ca: Api) -> None:
    """qbo-facts §2 CompanyInfo/Preferences + spec seed: Country US/CA, CustomTxnNumbers true on US,
    false on CA; UsingSalesTax true."""
    us_info = us.read("CompanyInfo", US_REALM)
    assert us_info["Country"] == "US"
    assert us_info["CompanyName"] == "Sandbox Company US"
    ca_info = ca.read("CompanyInfo", CA_REALM)
    assert ca_info["Country"] == "CA"
    us_prefs = loads(us.get("preferences"))["Preferences"]
    ca_prefs = loads(ca.get("preferences"))["Preferences"]
    assert us_prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert ca_prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    assert us_prefs["TaxPrefs"]["UsingSalesTax"] is True
    assert ca_prefs["TaxPrefs"]["UsingSalesTax"] is True


def test_seeded_taxcodes_and_accounts(us: Api, ca: Api) -> None:
    """Spec seed + qbo-facts §2 TaxCode/Account: US TaxCode "2" California; CA "3" GST, "4" HST ON,
    "5" Exempt; account "79" Services is Income."""
    assert us.read("TaxCode", "2")["Name"] == "California"
    assert {ca.read("TaxCode", i)["Name"] for i in ("3", "4", "5")} == {"GST", "HST ON", "Exempt"}
    acct = us.read("Account", "79")
    assert acct["Name"] == "Services"
    assert acct["AccountType"] == "Income"


def test_minorversion_below_75_and_absent_accepted(us: Api) -> None:
    """qbo-facts §1 minorversion: any value < 75 (or none) is served as 75, not rejected."""
    low = us.http.get(us.url(f"companyinfo/{US_REALM}"), params={"minorversion": "4"}, timeout=30)
    none = us.http.get(us.url(f"companyinfo/{US_REALM}"), timeout=30)
    assert low.status_code == 200, low.text
    assert none.status_code == 200, none.text
    assert loads(low)["CompanyInfo"]["Country"] == "US"


def test_invoice_pdf(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §1: GET /invoice/{id}/pdf returns PDF bytes."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    resp = us.http.get(us.url(f"invoice/{inv['Id']}/pdf"), headers={"Accept": "application/pdf"}, timeout=30)
    assert resp.status_code == 200
    assert resp.content.startswith(b"%PDF")
    assert "application/pdf" in resp.headers.get("Content-Type", "")


def test_invoice_with_inactive_customer_is_610(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §5/§13.8: an invoice referencing an inactive customer ⇒ 400 code 610."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    resp = us.post(
        "invoice", {"CustomerRef": {"value": us_ids["old"]}, "Line": [sales_line("10.00", us_ids["hours"])]}
    )
    assert_fault(resp, "610")
    assert len(ctl.entities(US_REALM, "Invoice")) == before


def test_invoice_with_unknown_item_is_610(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §5/§13.8 (spec): an invoice referencing an unknown item ⇒ 400 code 610."""
    resp = us.post(
        "invoice", {"CustomerRef": {"value": us_ids["amy"]}, "Line": [sales_line("10.00", "99999")]}
    )
    assert_fault(resp, "610")


def test_realms_are_isolated(us: Api, ctl: Control) -> None:
    """qbo-facts §1 paths: data lives under /company/{realmId}; a US create does not appear in CA."""
    cust = us.create("Customer", {"DisplayName": "Only In US"})
    assert all(c["DisplayName"] != "Only In US" for c in ctl.entities(CA_REALM, "Customer"))
    assert ctl.entity(US_REALM, "Customer", cust["Id"])["DisplayName"] == "Only In US"


def test_existing_line_id_updates_that_line(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2 SalesItemLineDetail: a line `Id` that exists ⇒ update of that line (Id kept); a line
    without Id ⇒ a new line with a new Id."""
    inv = us.invoice(us_ids["amy"], [sales_line("10.00", us_ids["hours"])])
    line_id = sales_lines(inv)[0]["Id"]
    changed = {**sales_line("15.00", us_ids["hours"]), "Id": line_id}
    upd = us.update(
        "Invoice",
        {
            "Id": inv["Id"],
            "SyncToken": "0",
            "sparse": True,
            "Line": [changed, sales_line("5.00", us_ids["design"])],
        },
    )
    lines = sales_lines(upd)
    assert lines[0]["Id"] == line_id
    assert lines[0]["Amount"] == Decimal("15.00")
    assert lines[1]["Id"] != line_id
    assert upd["TotalAmt"] == Decimal("20.00")


def test_update_with_operation_update_param(us: Api) -> None:
    """qbo-facts §1 path shapes: updates are POSTed with or without `?operation=update` (node-quickbooks
    appends it); both work."""
    cust = us.create("Customer", {"DisplayName": "Op Update"})
    resp = us.post(
        "customer",
        {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "via op"},
        operation="update",
    )
    assert resp.status_code == 200, resp.text
    assert loads(resp)["Customer"]["Notes"] == "via op"
    assert loads(resp)["Customer"]["SyncToken"] == "1"


def test_display_name_built_from_name_parts(us: Api) -> None:
    """qbo-facts §2 Customer: DisplayName omitted ⇒ built from Title/GivenName/MiddleName/FamilyName/
    Suffix."""
    cust = us.create("Customer", {"GivenName": "Ada", "FamilyName": "Lovelace"})
    assert cust["DisplayName"] == "Ada Lovelace"
    assert cust["GivenName"] == "Ada"


def test_unknown_fields_tolerated(us: Api) -> None:
    """qbo-facts §1 envelope: fields the docs barely mention (V4IDPseudonym, ClientEntityId, IsProject,
    BalanceWithJobs) are tolerated in requests."""
    cust = us.create(
        "Customer",
        {
            "DisplayName": "Tolerant Co",
            "V4IDPseudonym": "0020abc",
            "ClientEntityId": "0",
            "IsProject": False,
            "BalanceWithJobs": 0,
        },
    )
    assert cust["DisplayName"] == "Tolerant Co"


def test_rename_to_own_name_is_not_duplicate(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §2/§5 6240: uniqueness is against *another* customer/vendor/employee — re-sending a
    customer's own DisplayName (any case) on update is not a duplicate."""
    upd = us.update(
        "Customer",
        {"Id": us_ids["bill"], "SyncToken": "0", "sparse": True, "DisplayName": "Bill's Windsurf Shop"},
    )
    assert upd["SyncToken"] == "1"


def test_rename_to_taken_name_is_6240(us: Api, ctl: Control, us_ids: dict[str, str]) -> None:
    """qbo-facts §5 6240: renaming a customer to a name another customer uses ⇒ 6240; name unchanged."""
    resp = us.post(
        "customer",
        {"Id": us_ids["bill"], "SyncToken": "0", "sparse": True, "DisplayName": "Amy's Bird Sanctuary"},
    )
    assert_fault(resp, "6240")
    assert ctl.entity(US_REALM, "Customer", us_ids["bill"])["DisplayName"] == "Bill's Windsurf Shop"


def test_invoice_with_inactive_item_is_610(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §13.8: an invoice line referencing an inactive item ⇒ 610."""
    item = us.create("Item", {"Name": "Retired", "Type": "Service", "IncomeAccountRef": {"value": "79"}})
    us.update("Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    resp = us.post(
        "invoice", {"CustomerRef": {"value": us_ids["amy"]}, "Line": [sales_line("10.00", item["Id"])]}
    )
    assert_fault(resp, "610")


def test_sparse_update_without_lines_keeps_lines_and_totals(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §3 sparse update: omitted fields (here Line, TxnTaxDetail) are left alone — same line
    Ids, amounts, tax and totals."""
    inv = us.invoice(
        us_ids["amy"],
        [sales_line("100.00", us_ids["hours"], tax="TAX"), sales_line("20.00", us_ids["design"])],
        TxnTaxDetail={"TxnTaxCodeRef": {"value": "2"}},
    )
    upd = us.update("Invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "memo"})
    assert [ln["Id"] for ln in sales_lines(upd)] == [ln["Id"] for ln in sales_lines(inv)]
    assert [ln["Amount"] for ln in sales_lines(upd)] == [Decimal("100.00"), Decimal("20.00")]
    assert upd["TxnTaxDetail"]["TotalTax"] == Decimal("8.25")
    assert upd["TotalAmt"] == Decimal("128.25")
    assert upd["PrivateNote"] == "memo"


def test_private_note_and_description_over_4000_are_2050(
    us: Api, ctl: Control, us_ids: dict[str, str]
) -> None:
    """qbo-facts §13.7: PrivateNote and line Description max 4000 chars ⇒ 2050 "Length exceeds limit";
    exactly 4000 is accepted."""
    before = len(ctl.entities(US_REALM, "Invoice"))
    line = sales_line("10.00", us_ids["hours"])
    body = {"CustomerRef": {"value": us_ids["amy"]}, "Line": [line], "PrivateNote": "p" * 4001}
    assert_fault(us.post("invoice", body), "2050")
    long_desc = sales_line("10.00", us_ids["hours"], description="d" * 4001)
    assert_fault(us.post("invoice", {"CustomerRef": {"value": us_ids["amy"]}, "Line": [long_desc]}), "2050")
    assert len(ctl.entities(US_REALM, "Invoice")) == before
    ok = us.invoice(
        us_ids["amy"], [sales_line("10.00", us_ids["hours"], description="d" * 4000)], PrivateNote="p" * 4000
    )
    assert len(ok["PrivateNote"]) == 4000


def test_empty_docnumber_is_not_autonumbered(ca: Api, ca_ids: dict[str, str]) -> None:
    """qbo-facts §13.6: sending DocNumber "" (old python-quickbooks) produced an invoice with an *empty*
    number instead of auto-numbering — only an omitted key gets the next number."""
    line = sales_line("10.00", ca_ids["hours"], tax="3")
    empty = ca.invoice(ca_ids["amy"], [line], GlobalTaxCalculation="TaxExcluded", DocNumber="")
    assert empty.get("DocNumber", "") == ""
    omitted = ca.invoice(ca_ids["amy"], [line], GlobalTaxCalculation="TaxExcluded")
    assert omitted["DocNumber"] == "1001"
