"""The query language (qbo-facts §4)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import US_REALM, Api, Control, assert_fault, loads, sales_line

AMY = "Amy's Bird Sanctuary"
BILL = "Bill's Windsurf Shop"


def names(rows: list[dict[str, object]]) -> list[object]:
    return [r["DisplayName"] for r in rows]


def test_backslash_escaped_apostrophe_finds_customer(us: Api) -> None:
    """qbo-facts §4/§13.1: an apostrophe inside a literal is escaped with a backslash: 'Amy\\'s ...'."""
    rows = us.rows(r"SELECT * FROM Customer WHERE DisplayName = 'Amy\'s Bird Sanctuary'", "Customer")
    assert names(rows) == [AMY]


def test_unescaped_quote_is_4000(us: Api) -> None:
    """qbo-facts §4: an unescaped ' ⇒ 400 code 4000 "Error parsing query", Detail QueryParserError."""
    err = assert_fault(us.query("SELECT * FROM Customer WHERE DisplayName = 'Amy's Bird Sanctuary'"), "4000")
    assert "Error parsing query" in err["Message"]
    assert "QueryParserError" in err["Detail"]


@pytest.mark.parametrize("char", ["\u2019", "\u2013", "\u201c", "\u201d"])
def test_typographic_punctuation_in_literal_is_4000(us: Api, char: str) -> None:
    """qbo-facts §4: typographic U+2019, U+2013, U+201C, U+201D in a literal ⇒ 4000 QueryParserError."""
    err = assert_fault(
        us.query(f"SELECT * FROM Customer WHERE DisplayName = 'Amy{char}s Bird Sanctuary'"), "4000"
    )
    assert "QueryParserError" in err["Detail"]


def test_syntax_error_is_4000(us: Api) -> None:
    """qbo-facts §4/§5: unknown syntax (e.g. OR, not supported) ⇒ 4000."""
    assert_fault(us.query(r"SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'"), "4000")


def test_in_operator(us: Api) -> None:
    """qbo-facts §4: IN (...) with escaped literals."""
    rows = us.rows(
        r"SELECT * FROM Customer WHERE DisplayName IN ('Amy\'s Bird Sanctuary', 'Bill\'s Windsurf Shop')",
        "Customer",
    )
    assert sorted(names(rows)) == [AMY, BILL]  # type: ignore[type-var]


def test_like_with_percent(us: Api) -> None:
    """qbo-facts §4: LIKE with '%' wildcard (prefix, suffix and infix)."""
    assert names(us.rows("SELECT * FROM Customer WHERE DisplayName LIKE 'Bill%'", "Customer")) == [BILL]
    assert names(us.rows("SELECT * FROM Customer WHERE DisplayName LIKE '%Sanctuary'", "Customer")) == [AMY]
    assert names(us.rows("SELECT * FROM Customer WHERE DisplayName LIKE '%Windsurf%'", "Customer")) == [BILL]


def test_orderby_asc_desc(us: Api) -> None:
    """qbo-facts §4: ORDERBY f [ASC|DESC]."""
    for name in ("Zeta Corp", "Delta Corp", "Mu Corp"):
        us.create("Customer", {"DisplayName": name})
    asc = names(us.rows("SELECT * FROM Customer ORDERBY DisplayName", "Customer"))
    desc = names(us.rows("SELECT * FROM Customer ORDERBY DisplayName DESC", "Customer"))
    assert asc == sorted(asc)  # type: ignore[type-var]
    assert desc == list(reversed(asc))
    assert asc[0] == AMY
    assert desc[0] == "Zeta Corp"


def test_startposition_and_maxresults_paging(us: Api) -> None:
    """qbo-facts §4: STARTPOSITION is 1-based; MAXRESULTS caps the page; response echoes startPosition and
    maxResults."""
    for n in range(5):
        us.create("Customer", {"DisplayName": f"Page {n}"})
    resp = us.query(
        "SELECT * FROM Customer WHERE DisplayName LIKE 'Page%' ORDERBY DisplayName"
        " STARTPOSITION 2 MAXRESULTS 2"
    )
    assert resp.status_code == 200, resp.text
    qr = loads(resp)["QueryResponse"]
    assert names(qr["Customer"]) == ["Page 1", "Page 2"]
    assert qr["startPosition"] == 2
    assert qr["maxResults"] == 2


def test_startposition_zero_is_4001(us: Api) -> None:
    """qbo-facts §4: STARTPOSITION 0 ⇒ 4001 QueryValidationError (min 1)."""
    assert_fault(us.query("SELECT * FROM Customer STARTPOSITION 0 MAXRESULTS 10"), "4001")


def test_maxresults_over_1000_is_4001(us: Api) -> None:
    """qbo-facts §4: MAXRESULTS max 1000; 1001 ⇒ 4001; 1000 is fine."""
    assert_fault(us.query("SELECT * FROM Customer MAXRESULTS 1001"), "4001")
    assert us.query("SELECT * FROM Customer MAXRESULTS 1000").status_code == 200


def test_default_page_is_100(us: Api) -> None:
    """qbo-facts §4 (INF) + spec: without MAXRESULTS a page holds 100 rows."""
    for n in range(101):
        us.create(
            "Item", {"Name": f"Bulk item {n:03d}", "Type": "Service", "IncomeAccountRef": {"value": "79"}}
        )
    qr = loads(us.query("SELECT * FROM Item WHERE Name LIKE 'Bulk item%'"))["QueryResponse"]
    assert len(qr["Item"]) == 100
    assert qr["maxResults"] == 100
    assert qr["startPosition"] == 1
    count = loads(us.query("SELECT COUNT(*) FROM Item WHERE Name LIKE 'Bulk item%'"))["QueryResponse"]
    assert count["totalCount"] == 101


def test_inactive_customers_excluded_unless_active_filtered(us: Api) -> None:
    """qbo-facts §2 Customer/§4: inactive records are excluded from a plain SELECT; WHERE Active = false
    or Active IN (true, false) shows them."""
    plain = names(us.rows("SELECT * FROM Customer", "Customer"))
    assert "Old Customer" not in plain
    assert AMY in plain
    inactive = names(us.rows("SELECT * FROM Customer WHERE Active = false", "Customer"))
    assert inactive == ["Old Customer"]
    both = names(us.rows("SELECT * FROM Customer WHERE Active IN (true, false)", "Customer"))
    assert "Old Customer" in both
    assert AMY in both
    by_name = us.rows("SELECT * FROM Customer WHERE DisplayName = 'Old Customer'", "Customer")
    assert by_name == []


def test_count(us: Api) -> None:
    """qbo-facts §4: SELECT COUNT(*) ⇒ {"QueryResponse": {"totalCount": N}} (seed: 2 active customers)."""
    resp = us.query("SELECT COUNT(*) FROM Customer")
    assert resp.status_code == 200, resp.text
    qr = loads(resp)["QueryResponse"]
    assert qr["totalCount"] == 2
    assert "Customer" not in qr
    inactive = loads(us.query("SELECT COUNT(*) FROM Customer WHERE Active = false"))["QueryResponse"]
    assert inactive["totalCount"] == 1


def test_empty_result_is_empty_object(us: Api) -> None:
    """qbo-facts §4: an empty result is {"QueryResponse": {}} (no entity key) plus time."""
    resp = us.query("SELECT * FROM Customer WHERE DisplayName = 'Nobody At All'")
    assert resp.status_code == 200, resp.text
    body = loads(resp)
    assert body["QueryResponse"] == {}
    assert "time" in body


def test_post_application_text_form_matches_get(us: Api) -> None:
    """qbo-facts §1 query: GET ?query= and POST with Content-Type application/text are equivalent."""
    statement = r"SELECT * FROM Customer WHERE DisplayName = 'Bill\'s Windsurf Shop'"
    got = loads(us.query(statement))["QueryResponse"]["Customer"]
    resp = us.query_post(statement)
    assert resp.status_code == 200, resp.text
    posted = loads(resp)["QueryResponse"]["Customer"]
    assert names(got) == names(posted) == [BILL]
    assert got[0]["Id"] == posted[0]["Id"]


def test_lowercase_keywords(us: Api) -> None:
    """qbo-facts §4: keywords are accepted in lower case (node-quickbooks emits them so)."""
    rows = us.rows(
        r"select * from Customer where DisplayName = 'Bill\'s Windsurf Shop' maxresults 5", "Customer"
    )
    assert names(rows) == [BILL]


def test_equality_is_case_sensitive(us: Api) -> None:
    """Spec choice (qbo-facts §4 UNCONF): `=` on names is an exact, case-sensitive match."""
    assert us.rows(r"SELECT * FROM Customer WHERE DisplayName = 'amy\'s bird sanctuary'", "Customer") == []


def test_ref_field_and_numeric_comparison(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §4: CustomerRef compares its value; TotalAmt supports > and <=; AND combines."""
    small = us.invoice(us_ids["amy"], [sales_line("50.00", us_ids["hours"])])
    big = us.invoice(us_ids["amy"], [sales_line("500.00", us_ids["hours"])])
    other = us.invoice(us_ids["bill"], [sales_line("700.00", us_ids["hours"])])
    amy_rows = us.rows(f"SELECT * FROM Invoice WHERE CustomerRef = '{us_ids['amy']}'", "Invoice")
    assert sorted(r["Id"] for r in amy_rows) == sorted([small["Id"], big["Id"]])
    over = us.rows(
        f"SELECT * FROM Invoice WHERE CustomerRef = '{us_ids['amy']}' AND TotalAmt > '100'", "Invoice"
    )
    assert [r["Id"] for r in over] == [big["Id"]]
    upto = us.rows("SELECT * FROM Invoice WHERE TotalAmt <= '500.00'", "Invoice")
    assert sorted(r["Id"] for r in upto) == sorted([small["Id"], big["Id"]])
    assert other["TotalAmt"] == Decimal("700.00")


def test_metadata_dotted_field(us: Api, ctl: Control) -> None:
    """qbo-facts §4: dotted fields such as MetaData.LastUpdatedTime are filterable with offset timestamps."""
    early = us.create("Customer", {"DisplayName": "Early Bird"})
    ctl.clock(advance_seconds=7200)
    us.use_token(ctl.token(US_REALM)["access_token"])
    late = us.create("Customer", {"DisplayName": "Late Owl"})
    cut = early["MetaData"]["LastUpdatedTime"]
    rows = us.rows(f"SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '{cut}'", "Customer")
    assert [r["Id"] for r in rows] == [late["Id"]]


def test_query_by_id(us: Api, us_ids: dict[str, str]) -> None:
    """qbo-facts §4 filterable Id."""
    rows = us.rows(f"SELECT * FROM Customer WHERE Id = '{us_ids['bill']}'", "Customer")
    assert names(rows) == [BILL]


def test_query_other_entities(us: Api) -> None:
    """qbo-facts §2 Account/Item/TaxCode: queryable entities (AccountType filter, Item Name, TaxCode)."""
    accounts = us.rows("SELECT * FROM Account WHERE AccountType = 'Income'", "Account")
    assert {"Services", "Sales of Product Income"} <= {a["Name"] for a in accounts}
    items = us.rows("SELECT * FROM Item WHERE Name = 'Hours'", "Item")
    assert [i["Type"] for i in items] == ["Service"]
    codes = us.rows("SELECT * FROM TaxCode", "TaxCode")
    assert "2" in {c["Id"] for c in codes}


def test_double_encoded_backslash_breaks_the_escape(us: Api) -> None:
    """qbo-facts §4: the query is URL-decoded once; a double-encoded backslash (%255C) arrives as the text
    "%5C" and no longer escapes the quote ⇒ 4000 (the server must not decode twice)."""
    raw = "SELECT%20*%20FROM%20Customer%20WHERE%20DisplayName%20%3D%20%27Amy%255C%27s%20Bird%20Sanctuary%27"
    resp = us.http.get(us.url(f"query?minorversion=75&query={raw}"), timeout=30)
    assert_fault(resp, "4000")
    once = "SELECT%20*%20FROM%20Customer%20WHERE%20DisplayName%20%3D%20%27Amy%5C%27s%20Bird%20Sanctuary%27"
    ok = us.http.get(us.url(f"query?minorversion=75&query={once}"), timeout=30)
    assert names(loads(ok)["QueryResponse"]["Customer"]) == [AMY]


def test_unknown_field_is_an_error_not_empty(us: Api) -> None:
    """qbo-facts §4 (INF): filtering on a field the entity does not have returns an error (4000/4001)
    rather than an empty set — an empty answer would make a dedupe lookup silently miss."""
    resp = us.query("SELECT * FROM Customer WHERE DisplayNme = 'Amy'")
    assert resp.status_code == 400, resp.text
    assert loads(resp)["Fault"]["Error"][0]["code"] in ("4000", "4001")


def test_unknown_entity_is_an_error(us: Api) -> None:
    """qbo-facts §4/§5 (4000-4002 query errors): an unknown entity in FROM ⇒ 400 query fault."""
    resp = us.query("SELECT * FROM Gadget")
    assert resp.status_code == 400, resp.text
    assert loads(resp)["Fault"]["Error"][0]["code"] in ("4000", "4001", "4002")
