"""QBO fault bodies -> typed ``QboError`` (qbo-facts §5).

Three shapes reach us: the normal ``{"Fault": {"Error": [...]}}`` JSON, the gateway's lower-case
``{"fault": {"error": [...]}}`` JSON (401/403), and the XML ``IntuitResponse`` that throttling still
answers with even when JSON was asked for. Anything else (an nginx HTML page) keeps only the status.
Raw bodies never end up in an exception; the detail of an authentication fault is dropped because
QBO echoes a prefix of the rejected token there ("Token expired: eyJl...").
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_sync.ports.qbo import (
    QboAuthError,
    QboDuplicateName,
    QboError,
    QboNotFound,
    QboStaleObject,
    QboThrottled,
    QboTransient,
    QboValidationError,
)

THROTTLE_CODE = "3001"
_AUTH_CODES = frozenset({"120", "3100", "3200"})


@dataclass(frozen=True)
class FaultError:
    code: str | None
    message: str
    detail: str | None = None
    element: str | None = None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _from_json_errors(errors: object) -> list[FaultError]:
    if not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        # Normal faults use Message/Detail, gateway faults message/detail; both use code/element.
        message = error.get("Message", error.get("message"))
        found.append(
            FaultError(
                code=_text(error.get("code")),
                message=_text(message) or "",
                detail=_text(error.get("Detail", error.get("detail"))),
                element=_text(error.get("element")),
            )
        )
    return found


def errors_of_json(body: Mapping[str, Any]) -> list[FaultError]:
    """Errors of a parsed JSON body (top level or one batch item); empty when it is not a fault."""
    fault = body.get("Fault", body.get("fault"))
    if not isinstance(fault, Mapping):
        return []
    return _from_json_errors(fault.get("Error", fault.get("error")))


def _errors_of_xml(body: bytes) -> list[FaultError]:
    # The body comes from Intuit over TLS, and expat >= 2.4.1 bounds entity expansion.
    root = ET.fromstring(body)  # noqa: S314
    return [
        FaultError(
            code=_text(error.get("code")),
            message=_text(error.findtext("{*}Message")) or "",
            detail=_text(error.findtext("{*}Detail")),
            element=_text(error.get("element")),
        )
        for error in root.iterfind(".//{*}Error")
    ]


def parse_errors(body: bytes) -> list[FaultError]:
    text = body.lstrip()
    try:
        if text.startswith(b"{"):
            parsed = json.loads(text, parse_float=Decimal)
            return errors_of_json(parsed) if isinstance(parsed, Mapping) else []
        if text.startswith(b"<"):
            return _errors_of_xml(text)
    except (ValueError, ET.ParseError):
        pass
    return []


def _error_class(status: int | None, code: str | None, message: str) -> type[QboError]:
    if status == 429 or code == THROTTLE_CODE:
        return QboThrottled
    if status in (401, 403) or code in _AUTH_CODES:
        return QboAuthError
    if status is not None and status >= 500:
        return QboTransient
    if code == "5010":
        return QboStaleObject
    if code == "6240":
        return QboDuplicateName
    if code == "610" or status == 404 or "object not found" in message.lower():
        return QboNotFound
    return QboValidationError


def to_error(status: int | None, errors: list[FaultError], intuit_tid: str | None) -> QboError:
    """The typed error for a fault; the first Error decides the type (QBO puts the cause first)."""
    first = errors[0] if errors else FaultError(code=None, message=f"HTTP {status}")
    error_class = _error_class(status, first.code, first.message)
    return error_class(
        status=status,
        code=first.code,
        message=first.message,
        detail=None if error_class is QboAuthError else first.detail,
        element=first.element,
        intuit_tid=intuit_tid,
    )


def fault_from_response(status: int, body: bytes, intuit_tid: str | None) -> QboError:
    return to_error(status, parse_errors(body), intuit_tid)
