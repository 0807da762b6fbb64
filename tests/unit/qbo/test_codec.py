"""Money goes to QBO as exact JSON numbers and comes back as Decimal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from qbo_sync.adapters.qbo.codec import dumps, loads
from qbo_sync.domain.qbo import Invoice, Line, Ref, SalesItemLineDetail


def test_decimals_are_written_as_exact_numbers() -> None:
    body = {"Amount": Decimal("12345678901234.56"), "Qty": Decimal("1.5000"), "Big": Decimal("1E+3")}
    assert dumps(body) == '{"Amount":12345678901234.56,"Qty":1.5000,"Big":1000}'
    assert loads(dumps(body))["Amount"] == Decimal("12345678901234.56")


def test_floats_and_non_finite_amounts_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        dumps({"Amount": 0.1})
    with pytest.raises(ValueError, match="finite"):
        dumps({"Amount": Decimal("Infinity")})


def test_models_serialise_without_unset_fields_and_keep_text_utf8() -> None:
    invoice = Invoice(
        CustomerRef=Ref(value="1"),
        TxnDate=date(2026, 2, 3),
        Line=[
            Line(
                DetailType="SalesItemLineDetail",
                Amount=Decimal("100.10"),
                Description='Bob\u2019s "quoted" work',
                SalesItemLineDetail=SalesItemLineDetail(ItemRef=Ref(value="2"), Qty=Decimal(1)),
            )
        ],
    )
    text = dumps(invoice)
    assert "null" not in text
    assert '"TxnDate":"2026-02-03"' in text
    assert '"Amount":100.10' in text
    assert 'Bob\u2019s \\"quoted\\" work' in text
    assert loads(text)["Line"][0]["Amount"] == Decimal("100.10")


def test_loads_reads_non_integers_as_decimal() -> None:
    assert loads(b'{"TotalAmt": 0.1, "Count": 3}') == {"TotalAmt": Decimal("0.1"), "Count": 3}
