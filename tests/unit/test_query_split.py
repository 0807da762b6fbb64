"""QBO has no OR and cannot match typographic punctuation with '=': an IN over such names is split."""

from __future__ import annotations

from qbo_sync.adapters.qbo.query import plan_queries, select
from qbo_sync.ports.qbo import eq, in_


def test_in_without_typographic_values_stays_one_query() -> None:
    plans = plan_queries([in_("Name", ["Design", "O'Brien"])], include_inactive=False)
    assert [select("Item", p.server, 1, 1000) for p in plans] == [
        "SELECT * FROM Item WHERE Name IN ('Design', 'O\\'Brien') STARTPOSITION 1 MAXRESULTS 1000"
    ]


def test_in_with_a_curly_apostrophe_becomes_plain_in_plus_one_like_per_typographic_value() -> None:
    plans = plan_queries([in_("Name", ["Design", "Client\u2019s onboarding"])], include_inactive=False)
    statements = [select("Item", p.server, 1, 1000) for p in plans]
    assert statements == [
        "SELECT * FROM Item WHERE Name IN ('Design') STARTPOSITION 1 MAXRESULTS 1000",
        "SELECT * FROM Item WHERE Name LIKE '%s onboarding%' STARTPOSITION 1 MAXRESULTS 1000",
    ]
    assert plans[0].client == ()
    assert plans[1].client == (eq("Name", "Client\u2019s onboarding"),)


def test_only_typographic_values_need_no_in_query() -> None:
    plans = plan_queries([in_("Name", ["A\u2013B"])], include_inactive=True)
    assert len(plans) == 1
    assert "Active IN (true, false)" in select("Item", plans[0].server, 1, 1000)
