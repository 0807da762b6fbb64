"""Decimal money and a JSON codec that never turns an amount into a float."""

import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def round_cents(value: Decimal) -> Decimal:
    """Half-up to cents, the way QBO rounds amounts and per-transaction tax."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_decimal(value: object) -> Decimal | None:
    """A JSON amount as Decimal, or None when it is not a finite number.

    Numbers arrive as int or Decimal (see `loads`); python-quickbooks' DecimalEncoder sends
    numeric strings ("12.50"), which QBO accepts too.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def loads(data: bytes | str) -> Any:
    """JSON with every fractional number as Decimal; NaN/Infinity are rejected."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def _decimal_literal(value: Decimal) -> str:
    text = format(value, "f")
    # "-0.00" is valid JSON but reads like a refund; QBO never shows negative zero.
    return text[1:] if text.startswith("-") and value.is_zero() else text


def _encode(value: Any, out: Callable[[str], object]) -> None:
    if value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, str):
        out(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out(_decimal_literal(value))
    elif isinstance(value, int | float):
        out(json.dumps(value))
    elif isinstance(value, dict):
        out("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out(",")
            out(json.dumps(str(key), ensure_ascii=False))
            out(":")
            _encode(item, out)
        out("}")
    elif isinstance(value, list | tuple):
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _encode(item, out)
        out("]")
    else:
        raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def dumps(value: Any) -> str:
    """JSON text in which Decimal values are written as plain JSON numbers (not strings)."""
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


def dumps_bytes(value: Any) -> bytes:
    return dumps(value).encode("utf-8")
