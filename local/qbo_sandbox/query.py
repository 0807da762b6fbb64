"""The QBO query language (§4): a small lexer/parser and an evaluator over rendered entities.

SELECT * | COUNT(*) FROM Entity [WHERE cond [AND cond]...] [ORDERBY f [ASC|DESC], ...]
[STARTPOSITION n] [MAXRESULTS n]. Keywords are case-insensitive; string literals are single-quoted
with backslash escapes (\\' for an apostrophe).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.clock import parse_timestamp
from local.qbo_sandbox.faults import QboFault, query_parse_error, query_validation_error
from local.qbo_sandbox.money import parse_decimal

# Word processors' punctuation: QBO's lexer rejects these outright (§4, §13 pitfall 1).
TYPOGRAPHIC = frozenset("\u2019\u2013\u201c\u201d")
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000
COMPARISONS = ("=", "<", ">", "<=", ">=")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")
_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_.]")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Token:
    kind: str  # IDENTIFIER | STRING | NUMBER | SYMBOL | EOF
    text: str
    value: object
    column: int

    def describe(self) -> str:
        if self.kind == "EOF":
            return f'Encountered "<EOF>" at line 1, column {self.column}.'
        label = f'"{self.text}"' if self.kind == "SYMBOL" else f"<{self.kind}>"
        return f'Encountered " {label} "{self.text} "" at line 1, column {self.column}.'


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # one of COMPARISONS, IN or LIKE
    values: tuple[object, ...]


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool
    conditions: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    start_position: int
    max_results: int

    def filters_on(self, field: str) -> bool:
        return any(condition.field.lower() == field.lower() for condition in self.conditions)


def _lexical_error(text: str, index: int, encountered: str) -> QboFault:
    return query_parse_error(
        f"Invalid content. Lexical error at line 1, column {index + 1}.  "
        f'Encountered: {encountered}, after : "{text[max(0, index - 20) : index]}"'
    )


def _tokens(text: str) -> Iterator[Token]:
    """Lazily, so a parse error is reported at the first bad token, as QBO's parser does."""
    index = 0
    while index < len(text):
        char = text[index]
        if char in TYPOGRAPHIC:
            raise _lexical_error(text, index, f'"\\u{ord(char):04x}" ({ord(char)})')
        if char.isspace():
            index += 1
        elif char == "'":
            start, index, chars = index, index + 1, []
            while True:
                if index >= len(text):
                    raise _lexical_error(text, index, "<EOF>")
                char = text[index]
                if char in TYPOGRAPHIC:
                    raise _lexical_error(text, index, f'"\\u{ord(char):04x}" ({ord(char)})')
                if char == "\\" and index + 1 < len(text):
                    chars.append(text[index + 1])
                    index += 2
                elif char == "'":
                    index += 1
                    break
                else:
                    chars.append(char)
                    index += 1
            yield Token("STRING", text[start:index], "".join(chars), start + 1)
        elif char.isdigit() or (char == "-" and text[index + 1 : index + 2].isdigit()):
            match = _NUMBER.match(text, index)
            assert match is not None  # the branch condition guarantees a digit here
            yield Token("NUMBER", match.group(), Decimal(match.group()), index + 1)
            index = match.end()
        elif _IDENT_START.match(char):
            start = index
            while index < len(text) and _IDENT_CHAR.match(text[index]):
                index += 1
            yield Token("IDENTIFIER", text[start:index], text[start:index], start + 1)
        elif text[index : index + 2] in ("<=", ">="):
            yield Token("SYMBOL", text[index : index + 2], None, index + 1)
            index += 2
        elif char in "=<>(),*":
            yield Token("SYMBOL", char, None, index + 1)
            index += 1
        else:
            raise _lexical_error(text, index, f'"{char}" ({ord(char)})')
    yield Token("EOF", "", None, len(text) + 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._current = next(self._tokens)

    def _advance(self) -> Token:
        token = self._current
        if token.kind != "EOF":
            self._current = next(self._tokens)
        return token

    def _error(self) -> QboFault:
        return query_parse_error(self._current.describe())

    def _at_keyword(self, *words: str) -> bool:
        return self._current.kind == "IDENTIFIER" and self._current.text.upper() in words

    def _keyword(self, word: str) -> None:
        if not self._at_keyword(word):
            raise self._error()
        self._advance()

    def _symbol(self, symbol: str) -> None:
        if self._current.kind != "SYMBOL" or self._current.text != symbol:
            raise self._error()
        self._advance()

    def _identifier(self) -> str:
        if self._current.kind != "IDENTIFIER":
            raise self._error()
        return self._advance().text

    def _integer(self) -> int:
        token = self._current
        if (
            token.kind != "NUMBER"
            or not isinstance(token.value, Decimal)
            or token.value != token.value.to_integral()
        ):
            raise self._error()
        self._advance()
        return int(token.value)

    def _literal(self) -> object:
        token = self._current
        if token.kind in ("STRING", "NUMBER"):
            return self._advance().value
        if self._at_keyword("TRUE", "FALSE"):
            return self._advance().text.upper() == "TRUE"
        raise self._error()

    def _condition(self) -> Condition:
        field = self._identifier()
        if self._at_keyword("IN"):
            self._advance()
            self._symbol("(")
            values = [self._literal()]
            while self._current.text == ",":
                self._advance()
                values.append(self._literal())
            self._symbol(")")
            return Condition(field, "IN", tuple(values))
        if self._at_keyword("LIKE"):
            self._advance()
            if self._current.kind != "STRING":
                raise self._error()
            return Condition(field, "LIKE", (self._advance().value,))
        if self._current.kind != "SYMBOL" or self._current.text not in COMPARISONS:
            raise self._error()
        operator = self._advance().text
        return Condition(field, operator, (self._literal(),))

    def _select_list(self) -> bool:
        """True for COUNT(*). `*, Sku` (python-quickbooks' Item listing) is accepted as `*`."""
        if self._at_keyword("COUNT"):
            self._advance()
            self._symbol("(")
            self._symbol("*")
            self._symbol(")")
            return True
        self._symbol("*")
        while self._current.text == ",":
            self._advance()
            self._identifier()
        return False

    def _order_by(self) -> tuple[tuple[str, bool], ...]:
        keys = []
        while True:
            field = self._identifier()
            descending = False
            if self._at_keyword("ASC", "DESC"):
                descending = self._advance().text.upper() == "DESC"
            keys.append((field, descending))
            if self._current.text != ",":
                return tuple(keys)
            self._advance()

    def parse(self) -> Query:
        self._keyword("SELECT")
        count = self._select_list()
        self._keyword("FROM")
        entity = self._identifier()
        conditions: list[Condition] = []
        if self._at_keyword("WHERE"):
            self._advance()
            conditions.append(self._condition())
            while self._at_keyword("AND"):
                self._advance()
                conditions.append(self._condition())
        order_by: tuple[tuple[str, bool], ...] = ()
        start, maximum = 1, DEFAULT_MAX_RESULTS
        while self._current.kind != "EOF":
            if self._at_keyword("ORDERBY"):
                self._advance()
                order_by = self._order_by()
            elif self._at_keyword("ORDER"):
                self._advance()
                self._keyword("BY")
                order_by = self._order_by()
            elif self._at_keyword("STARTPOSITION"):
                self._advance()
                start = self._integer()
            elif self._at_keyword("MAXRESULTS"):
                self._advance()
                maximum = self._integer()
            else:
                raise self._error()
        for value in (start, maximum):
            if value < 1:
                raise query_validation_error(f"value {value} is too small. Min allowed value is 1")
        if maximum > MAX_RESULTS_LIMIT:
            raise query_validation_error(
                f"value {maximum} is too large. Max allowed value is {MAX_RESULTS_LIMIT}"
            )
        return Query(entity, count, tuple(conditions), order_by, start, maximum)


def parse_query(text: str) -> Query:
    return _Parser(text).parse()


def field_value(obj: dict[str, Any], path: str) -> object:
    """A (dotted) property; references compare by their value, email/phone/web by their text."""
    current: object = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        key = next((candidate for candidate in current if candidate.lower() == part.lower()), None)
        current = current.get(key) if key is not None else None
    if isinstance(current, dict):
        for key in ("value", "Address", "FreeFormNumber", "URI"):
            if key in current:
                return current[key]
        return None
    return current


def _as_datetime(text: str) -> datetime | None:
    return parse_timestamp(text) if _DATE_PREFIX.match(text) else None


def _compare(left: Any, right: Any, operator: str) -> bool:
    if operator == "=":
        return bool(left == right)
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _matches(actual: object, operator: str, literal: object) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        wanted = literal if isinstance(literal, bool) else str(literal).lower() == "true"
        return operator == "=" and actual == wanted
    if isinstance(actual, int | Decimal):
        number = parse_decimal(literal)
        return number is not None and _compare(Decimal(actual), number, operator)
    text, wanted_text = str(actual), str(literal)
    if operator == "LIKE":
        pattern = ".*".join(re.escape(part) for part in wanted_text.split("%"))
        # LIKE is case-insensitive like QBO's; `=` stays an exact, case-sensitive match (spec choice).
        return re.fullmatch(pattern, text, re.IGNORECASE | re.DOTALL) is not None
    moment, wanted_moment = _as_datetime(text), _as_datetime(wanted_text)
    if moment is not None and wanted_moment is not None:
        return _compare(moment, wanted_moment, operator)
    if text.isdigit() and wanted_text.isdigit():
        return _compare(int(text), int(wanted_text), operator)
    return _compare(text, wanted_text, operator)


def _satisfies(obj: dict[str, Any], condition: Condition) -> bool:
    actual = field_value(obj, condition.field)
    operator = "=" if condition.operator == "IN" else condition.operator
    return any(_matches(actual, operator, literal) for literal in condition.values)


def _sort_key(value: object) -> tuple[int, Decimal, str]:
    if value is None:
        return (2, Decimal(0), "")
    if isinstance(value, bool | int | Decimal):
        return (0, Decimal(value), "")
    text = str(value)
    if text.isdigit():
        return (0, Decimal(text), "")
    moment = _as_datetime(text)
    if moment is not None:
        return (0, Decimal(str(moment.timestamp())), "")
    return (1, Decimal(0), text.casefold())


def _order_key(field: str) -> Callable[[dict[str, Any]], tuple[int, Decimal, str]]:
    return lambda obj: _sort_key(field_value(obj, field))


# Properties QBO documents as filterable (qbo-facts §4), beyond those any stored object carries.
_DOCUMENTED_FIELDS = frozenset(
    {
        "Id",
        "Active",
        "MetaData",
        "DisplayName",
        "Name",
        "DocNumber",
        "CustomerRef",
        "TxnDate",
        "DueDate",
        "Balance",
        "TotalAmt",
        "AccountType",
        "AccountSubType",
        "Classification",
        "Type",
        "Sku",
        "FullyQualifiedName",
        "GivenName",
        "FamilyName",
        "MiddleName",
        "CompanyName",
        "PrimaryEmailAddr",
        "PrintOnCheckName",
        "PaymentRefNum",
        "ProjectRef",
    }
)


def _check_fields(query: Query, entity_name: str, objects: list[dict[str, Any]]) -> None:
    """A misspelled property is an error in QBO, not an empty result: a typo must not look like no match."""
    known = {key.lower() for obj in objects for key in obj} | {f.lower() for f in _DOCUMENTED_FIELDS}
    fields = [condition.field for condition in query.conditions] + [field for field, _ in query.order_by]
    for field in fields:
        if field.split(".")[0].lower() not in known:
            raise query_validation_error(f"property '{field}' is not queryable for {entity_name}")


def run_query(
    query: Query, entity_name: str, objects: list[dict[str, Any]], hide_inactive: bool
) -> dict[str, Any]:
    """The QueryResponse object for `objects` (already in default Id order)."""
    _check_fields(query, entity_name, objects)
    if hide_inactive and not query.filters_on("Active"):
        objects = [obj for obj in objects if obj.get("Active") is not False]
    matched = [obj for obj in objects if all(_satisfies(obj, condition) for condition in query.conditions)]
    if query.count:
        return {"totalCount": len(matched)}
    for field, descending in reversed(query.order_by):  # stable sorts, least significant key first
        matched.sort(key=_order_key(field), reverse=descending)
    page = matched[query.start_position - 1 : query.start_position - 1 + query.max_results]
    if not page:
        return {}
    return {entity_name: page, "startPosition": query.start_position, "maxResults": len(page)}
