"""Hypothesis strategies for what reaches the product from outside: header values, query strings, cookies
and bodies, from plausible to hostile (deep nesting, huge numbers, odd digits, invalid UTF-8, oversized
ids), plus generators of well-formed-but-wrong values."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

# http.server decodes header bytes as latin-1; API Gateway refuses control characters in headers.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
long_header = st.integers(1000, 8000).map(lambda n: "x" * n)
digit_strings = st.one_of(
    st.text("0123456789", min_size=1, max_size=30),
    st.one_of(st.sampled_from([400, 4_301]), st.integers(13, 5000)).map(
        lambda n: "9" * n
    ),  # too long for int()/float
    st.sampled_from(["²³", "١٧٩٤٥٠٠٠٠٠", "١", "-1", "+1", " 1", "1e9", "0x10", "1_000", "\u0661\u0662"]),
)
any_text = st.text(max_size=60)
oversized_id = st.integers(65, 5000).map(lambda n: "7" * n)
# What a query parameter or form field may hold (UTF-8 percent-encoded by urlencode).
field_value = st.one_of(any_text, digit_strings, long_header, st.just(""))

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def deep(depth: int, opener: bytes, closer: bytes) -> bytes:
    return opener * depth + closer * depth


# Depths and lengths that break naive parsers (Python's recursion limit is 1,000, its int() limit 4,300
# digits), drawn from fixed values too: integer ranges alone favour their small end.
depths = st.one_of(st.sampled_from([1_000, 5_000, 100_000]), st.integers(150, 100_000))
digit_counts = st.one_of(st.sampled_from([4_301, 5_000]), st.integers(300, 6000))
hostile_bodies = st.one_of(
    st.binary(max_size=300),
    json_value.map(lambda value: json.dumps(value).encode()),
    depths.map(lambda n: deep(n, b"[", b"]")),
    depths.map(lambda n: deep(n, b'{"a":', b"}")),
    digit_counts.map(lambda n: b'{"n": ' + b"9" * n + b"}"),
    digit_counts.map(
        lambda n: b'[{"id": "1", "type": "qbo.payment.updated.v1", "intuitentityid": ' + b"9" * n + b"}]"
    ),
    st.sampled_from(
        [
            b"",
            b" ",
            b"null",
            b"[NaN]",
            b"[Infinity]",
            b"[1e999999]",
            b'"\\ud800"',
            b'["\xff\xfe"]',
            b"\xef\xbb\xbf[]",  # a BOM
            b"[1] trailing",
            b'{"a": 1, "a": 2}',
        ]
    ),
)


def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with a few bytes flipped, cut or inserted: mostly invalid, sometimes still JSON."""

    def mutate(edits: list[tuple[int, int, int]]) -> bytes:
        data = bytearray(valid)
        for kind, position, value in edits:
            if not data:
                break
            at = position % len(data)
            if kind == 0:
                data[at] = value
            elif kind == 1:
                del data[at]
            else:
                data.insert(at, value)
        return bytes(data)

    edit = st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4).map(mutate)


def query_string(names: list[str]) -> st.SearchStrategy[str]:
    """Our parameter names (and others, repeated or not) with any values; or raw garbage."""
    pair = st.tuples(st.sampled_from([*names, "x", "callback"]), field_value)
    return st.one_of(
        st.lists(pair, max_size=6).map(urlencode),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80),
    )


def extra_headers() -> st.SearchStrategy[list[tuple[str, str]]]:
    name = st.sampled_from(
        ["X-Forwarded-For", "User-Agent", "Accept", "X-Amz-Date", "Cookie", "Authorization"]
    )
    return st.lists(st.tuples(name, header_text), max_size=3)


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "",
    ]
)


def form_body(
    fields: dict[str, st.SearchStrategy[str]], required: dict[str, st.SearchStrategy[str]] | None = None
) -> st.SearchStrategy[bytes]:
    """A urlencoded form: the required fields, the others each present or not, plus unknown ones; or
    raw bytes, or a form over the size limit."""
    present = st.fixed_dictionaries(required or {}, optional=fields)
    unknown = st.lists(st.tuples(st.text(max_size=10), field_value), max_size=3)
    encoded = st.tuples(present, unknown).map(lambda pair: urlencode([*pair[0].items(), *pair[1]]).encode())
    oversized = st.integers(16_000, 20_000).map(lambda n: b"a=" + b"b" * n)
    return weighted((8, encoded), (1, st.binary(max_size=200)), (1, oversized))


def as_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def weighted[T](*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each ``weight`` times as likely (the well-formed cases reach deeper code)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)
