"""QBO query language, written only here and only from ``Condition`` values (qbo-facts §4).

String literals are single-quoted with a backslash before ``'`` and ``\\``; statements are POSTed as
``application/text`` so there is no URL encoding to get wrong.

QBO's lexer rejects typographic punctuation (curly quotes U+2019/U+201C/U+201D, en dash U+2013, and
we add their siblings U+2018/U+2014) inside a literal, so such a name cannot be matched with ``=``.
``plan_query`` rewrites ``field = 'Bob<U+2019>s Surf Shop'`` into ``field LIKE '%s Surf Shop%'``,
the longest fragment between those characters (no server-side filter at all when there is none),
and keeps the exact ``=`` as a filter the client applies to each returned row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from qbo_sync.ports.qbo import Condition, QueryValue, eq, in_, like

# Characters QBO's query lexer refuses inside a literal (the documented four plus their siblings).
UNMATCHABLE_CHARACTERS = frozenset("\u2018\u2019\u201c\u201d\u2013\u2014")
MAX_PAGE_SIZE = 1000  # QBO's MAXRESULTS ceiling


def literal(value: QueryValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("QBO timestamps need a UTC offset; got a naive datetime")
        return f"'{value.isoformat()}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return f"'{value:f}'" if isinstance(value, Decimal) else f"'{value}'"


def _clause(condition: Condition) -> str:
    if condition.op == "IN":
        return f"{condition.field} IN ({', '.join(literal(v) for v in condition.values)})"
    return f"{condition.field} {condition.op} {literal(condition.values[0])}"


def select(entity_name: str, where: Sequence[Condition], start_position: int, max_results: int) -> str:
    # Every literal went through literal(); field names were validated by Condition.
    statement = f"SELECT * FROM {entity_name}"  # noqa: S608
    if where:
        statement += " WHERE " + " AND ".join(_clause(c) for c in where)
    return f"{statement} STARTPOSITION {start_position} MAXRESULTS {max_results}"


def _unmatchable(value: QueryValue) -> bool:
    return isinstance(value, str) and not UNMATCHABLE_CHARACTERS.isdisjoint(value)


def _longest_matchable_fragment(text: str) -> str:
    for char in UNMATCHABLE_CHARACTERS:
        text = text.replace(char, "\0")
    return max(text.split("\0"), key=len)


@dataclass(frozen=True)
class QueryPlan:
    """What QBO is asked (``server``) and what every returned row must also satisfy (``client``)."""

    server: tuple[Condition, ...]
    client: tuple[Condition, ...]


def plan_query(where: Sequence[Condition], *, include_inactive: bool) -> QueryPlan:
    """Rewrite conditions QBO cannot evaluate; ``include_inactive`` adds ``Active IN (true, false)``."""
    server: list[Condition] = []
    client: list[Condition] = []
    for condition in where:
        if not any(_unmatchable(v) for v in condition.values):
            server.append(condition)
            continue
        if condition.op != "=":
            raise ValueError(f"QBO cannot evaluate {condition.op} on text with typographic punctuation")
        text = str(condition.values[0])
        fragment = _longest_matchable_fragment(text)
        if fragment:
            server.append(like(condition.field, f"%{fragment}%"))
        client.append(eq(condition.field, text))
    # QBO leaves inactive name-list objects out unless the query filters on Active itself.
    if include_inactive and all(c.field != "Active" for c in where):
        server.append(in_("Active", (True, False)))
    return QueryPlan(tuple(server), tuple(client))


def plan_queries(where: Sequence[Condition], *, include_inactive: bool) -> list[QueryPlan]:
    """Like ``plan_query``, for an ``IN`` whose values include such text too: QBO has no ``OR``, so it
    becomes one query for the plain values plus one ``eq`` query per typographic value."""
    split = [c for c in where if c.op == "IN" and any(_unmatchable(v) for v in c.values)]
    if not split:
        return [plan_query(where, include_inactive=include_inactive)]
    if len(split) > 1:
        raise ValueError("at most one IN condition may contain typographic punctuation")
    (condition,) = split
    others = [c for c in where if c is not condition]
    plain = tuple(v for v in condition.values if not _unmatchable(v))
    variants = ([in_(condition.field, plain)] if plain else []) + [
        eq(condition.field, v) for v in condition.values if _unmatchable(v)
    ]
    return [plan_query([*others, variant], include_inactive=include_inactive) for variant in variants]


def _field_value(row: BaseModel, dotted: str) -> object:
    value: object = row
    for name in dotted.split("."):
        value = getattr(value, name, None)
    return value


def satisfies(row: BaseModel, conditions: Sequence[Condition]) -> bool:
    """Exact client-side check of the ``=`` conditions ``plan_query`` could not send to QBO."""
    return all(_field_value(row, c.field) == c.values[0] for c in conditions)
