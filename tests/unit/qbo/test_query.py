"""Query text is built only from Conditions, with QBO's escaping (qbo-facts §4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from qbo_sync.adapters.qbo.query import literal, plan_queries, plan_query, satisfies, select
from qbo_sync.domain.qbo import Customer, Invoice, Line, MetaData, Ref
from qbo_sync.ports.qbo import Condition, eq, in_, like


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Amy's Bird Sanctuary", r"'Amy\'s Bird Sanctuary'"),
        ("back\\slash", r"'back\\slash'"),
        ("ends with \\'", r"'ends with \\\''"),
        ("' OR 1=1 --", r"'\' OR 1=1 --'"),
        (True, "true"),
        (False, "false"),
        (42, "'42'"),
        (Decimal("1234.50"), "'1234.50'"),
        (Decimal("1E+2"), "'100'"),
        (date(2026, 3, 1), "'2026-03-01'"),
        (datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=-7))), "'2026-03-01T08:30:00-07:00'"),
    ],
)
def test_literals_are_quoted_and_escaped(value: str | bool | int | Decimal | date, expected: str) -> None:
    assert literal(value) == expected


def test_naive_datetimes_and_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        literal(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="finite"):
        literal(Decimal("NaN"))


def test_select_joins_conditions_and_pages() -> None:
    statement = select(
        "Customer",
        [eq("DisplayName", "Amy's"), in_("Id", ["1", "2"]), like("CompanyName", "Acme%")],
        start_position=1001,
        max_results=1000,
    )
    assert statement == (
        r"SELECT * FROM Customer WHERE DisplayName = 'Amy\'s' AND Id IN ('1', '2') "
        "AND CompanyName LIKE 'Acme%' STARTPOSITION 1001 MAXRESULTS 1000"
    )


def test_select_without_conditions() -> None:
    assert select("Item", [], 1, 1000) == "SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 1000"


@pytest.mark.parametrize(
    "build",
    [
        lambda: eq("DisplayName = 'x' OR Id", "1"),
        lambda: eq("1Name", "x"),
        lambda: eq("", "x"),
        lambda: in_("Id", []),
        lambda: Condition("Id", "=", ("1", "2")),
        lambda: Condition("Balance", "LIKE", (Decimal(1),)),
    ],
)
def test_malformed_conditions_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_dotted_field_names_are_allowed() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    condition = Condition("MetaData.LastUpdatedTime", ">", (since,))
    assert select("Invoice", [condition], 1, 10).endswith(
        "WHERE MetaData.LastUpdatedTime > '2026-01-01T00:00:00+00:00' STARTPOSITION 1 MAXRESULTS 10"
    )


def test_plain_conditions_go_to_the_server_unchanged() -> None:
    where = [eq("DisplayName", "Amy's Bird Sanctuary"), in_("Id", ["1"])]
    plan = plan_query(where, include_inactive=False)
    assert plan.server == tuple(where)
    assert plan.client == ()


def test_typographic_eq_becomes_like_on_longest_fragment_plus_exact_client_filter() -> None:
    name = "Bob\u2019s \u201cBest\u201d Surf \u2013 Shop"
    plan = plan_query([eq("DisplayName", name)], include_inactive=False)
    assert plan.server == (like("DisplayName", "% Surf %"),)
    assert plan.client == (eq("DisplayName", name),)


def test_typographic_only_value_filters_on_the_client_alone() -> None:
    plan = plan_query([eq("DisplayName", "\u2019\u2013")], include_inactive=False)
    assert plan.server == ()
    assert plan.client == (eq("DisplayName", "\u2019\u2013"),)


def test_typographic_values_in_other_operators_are_refused() -> None:
    with pytest.raises(ValueError, match="typographic"):
        plan_query([in_("DisplayName", ["Bob\u2019s", "Amy"])], include_inactive=False)


def test_include_inactive_adds_active_filter_unless_caller_filters_on_active() -> None:
    plan = plan_query([eq("DisplayName", "x")], include_inactive=True)
    assert plan.server == (eq("DisplayName", "x"), in_("Active", [True, False]))
    assert select("Customer", plan.server, 1, 1000) == (
        "SELECT * FROM Customer WHERE DisplayName = 'x' AND Active IN (true, false) "
        "STARTPOSITION 1 MAXRESULTS 1000"
    )
    own = plan_query([eq("Active", False)], include_inactive=True)
    assert own.server == (eq("Active", False),)


def test_client_filter_is_exact_and_follows_dotted_fields() -> None:
    name = "Bob\u2019s Surf Shop"
    wanted = Customer(DisplayName=name)
    assert satisfies(wanted, [eq("DisplayName", name)])
    assert not satisfies(Customer(DisplayName="Bob\u2019s Surf Shop II"), [eq("DisplayName", name)])
    assert not satisfies(Customer(DisplayName="bob\u2019s surf shop"), [eq("DisplayName", name)])
    invoice = Invoice(
        CustomerRef=Ref(value="1"),
        Line=[Line(DetailType="DescriptionOnly")],
        MetaData=MetaData(CreateTime="2026-01-01T00:00:00-08:00"),
    )
    assert satisfies(invoice, [eq("MetaData.CreateTime", "2026-01-01T00:00:00-08:00")])
    assert not satisfies(invoice, [eq("MetaData.Missing", "x")])


def test_in_with_typographic_values_splits_into_one_query_per_such_value() -> None:
    names = ["Hours", "Design", "Bob\u2019s Work"]
    plans = plan_queries([in_("Name", names)], include_inactive=False)
    assert [plan.server for plan in plans] == [
        (in_("Name", ["Hours", "Design"]),),
        (like("Name", "%s Work%"),),
    ]
    assert [plan.client for plan in plans] == [(), (eq("Name", "Bob\u2019s Work"),)]
    with pytest.raises(ValueError, match="at most one IN"):
        plan_queries([in_("Name", ["\u2019a"]), in_("DisplayName", ["\u2019b"])], include_inactive=False)
