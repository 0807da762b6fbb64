"""JSON for QBO with exact money: amounts travel as JSON numbers and are read back as ``Decimal``.

``json.dumps`` cannot write a ``Decimal`` as a number (and going through ``float`` would round it), so
request bodies are written by the small encoder below; floats are refused outright.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def dumps(value: object) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not sent to QBO; use Decimal")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, BaseModel):  # unset fields omitted, as QBO's optional fields expect
        return dumps(value.model_dump(mode="python", exclude_none=True, by_alias=True))
    if isinstance(value, date):  # datetime included
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key), ensure_ascii=False)}:{dumps(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} to QBO")


def loads(body: bytes | str) -> Any:
    return json.loads(body, parse_float=Decimal)
