"""The one JSON parser for request bodies that come from outside (webhooks, OneDesk commands).

pydantic's Rust parser (jiter), not ``json.loads``: it never recurses in Python, so a body nested
100,000 deep cannot raise ``RecursionError``, and every refusal is the same ``ValueError`` with a
position: nesting deeper than 200 levels, an integer longer than Python's 4,300-digit conversion limit,
NaN or Infinity, invalid UTF-8, trailing data. Callers answer it as a 400.
"""

from __future__ import annotations

from typing import Any

import pydantic_core


class MalformedJson(ValueError):
    """The body is not JSON this service accepts; the message says where and why."""


def parse_json(raw: bytes) -> Any:
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as error:
        raise MalformedJson(f"body is not JSON: {error}") from None
