"""Validation helpers shared by the name-list and transaction rules."""

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from local.qbo_sandbox.faults import (
    business_error,
    invalid_number,
    malformed_request,
    object_not_found,
    required_param,
    stale_object,
    too_long,
)
from local.qbo_sandbox.money import parse_decimal, round_cents
from local.qbo_sandbox.store import Company, Record

# Present on every entity, never writable.
COMMON_READ_ONLY = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})


def is_sparse(body: dict[str, Any]) -> bool:
    return body.get("sparse") in (True, "true")


def writable(body: dict[str, Any], read_only: Iterable[str]) -> dict[str, Any]:
    """Client input without read-only fields and without nulls (null means "not set")."""
    blocked = COMMON_READ_ONLY.union(read_only)
    return {key: value for key, value in body.items() if key not in blocked and value is not None}


def merge_update(
    existing: dict[str, Any], body: dict[str, Any], sparse: bool, read_only: Iterable[str]
) -> dict[str, Any]:
    """§3: sparse changes only the supplied fields; a full update sets omitted writable fields to null."""
    incoming = writable(body, read_only)
    if not sparse:
        return incoming
    return {**writable(existing, read_only), **incoming}


def check_sync_token(record: Record, body: dict[str, Any], entity: str) -> None:
    token = body.get("SyncToken")
    if token is None or str(token) == "":
        raise required_param("SyncToken")
    if str(token) != record.sync_token:
        raise stale_object(entity)


def text(data: dict[str, Any], field: str) -> str:
    """A string field, "" when absent; SDKs send "" for unset strings."""
    value = data.get(field)
    return value if isinstance(value, str) else ""


def drop_blank(data: dict[str, Any], fields: Iterable[str]) -> None:
    """python-quickbooks serialises unset dates and strings as "": treat them as absent."""
    for field in fields:
        if data.get(field) == "":
            del data[field]


def check_length(data: dict[str, Any], field: str, maximum: int) -> None:
    value = data.get(field)
    if isinstance(value, str) and len(value) > maximum:
        raise too_long(field, maximum, len(value))


def check_name_characters(data: dict[str, Any], fields: Iterable[str]) -> None:
    for field in fields:
        value = data.get(field)
        if isinstance(value, str) and any(char in value for char in ":\t\n"):
            raise business_error(
                f"Invalid character in {field}: colon, tab and newline are not allowed", field
            )


def ref_id(value: object) -> str:
    """The id inside a `{"value": ...}` reference ("" when missing or empty)."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def amount(data: dict[str, Any], field: str, element: str | None = None) -> Decimal | None:
    """An optional money field rounded half-up to cents; None when absent or ""."""
    raw = data.get(field)
    if raw is None or raw == "":
        return None
    parsed = parse_decimal(raw)
    if parsed is None:
        raise invalid_number(element or field, raw)
    return round_cents(parsed)


def quantity(data: dict[str, Any], field: str, element: str | None = None) -> Decimal | None:
    """An optional non-money number (Qty, UnitPrice, percentages): kept at the precision sent."""
    raw = data.get(field)
    if raw is None or raw == "":
        return None
    parsed = parse_decimal(raw)
    if parsed is None:
        raise invalid_number(element or field, raw)
    return parsed


# QBO keeps seven decimal places of a line's Qty and UnitPrice and drops the rest (reported by
# integrators; lines entered in QBO's UI come back with seven). Whether it truncates or rounds is not
# documented: this emulator truncates.
LINE_QUANTITY_QUANTUM = Decimal("0.0000001")


def line_quantity(data: dict[str, Any], field: str, element: str) -> Decimal | None:
    """A line's Qty or UnitPrice as QBO stores it: at most seven decimal places."""
    value = quantity(data, field, element)
    if value is None or value == value.quantize(LINE_QUANTITY_QUANTUM, rounding=ROUND_DOWN):
        return value
    return value.quantize(LINE_QUANTITY_QUANTUM, rounding=ROUND_DOWN)


def valid_email(address: str) -> bool:
    return "@" in address and "." in address


def check_date(data: dict[str, Any], field: str) -> None:
    value = data.get(field)
    if value is None:
        return
    try:
        date.fromisoformat(str(value))
    except ValueError:
        raise malformed_request(f"{field} {value!r} is not a valid date (yyyy-mm-dd)") from None


def active_record(company: Company, entity: str, entity_id: str, element: str) -> Record:
    """A referenced name-list object; unknown or inactive ones are 610 (§13 pitfall 8)."""
    record = company.require(entity, entity_id, element)
    if record.data.get("Active") is False:
        raise object_not_found(element)
    return record
