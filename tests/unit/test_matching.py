"""Which QBO names an invoice needs, and which names QBO refuses (docs/product.md P11-P13)."""

from __future__ import annotations

import pytest

from qbo_sync.domain.matching import (
    CUSTOM_CHARGE_ITEM,
    customer_name_problem,
    item_name_for,
    item_name_problem,
    required_item_names,
)
from tests.unit.builders import custom_line, discount_line, make_invoice, tax_line, time_line


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Acme: East", "a colon"),
        ("Acme\tEast", "a tab"),
        ("Acme\nEast", "a line break"),
        ("Acme\rEast", "a line break"),
    ],
)
def test_customer_names_qbo_forbids_are_refused_with_a_reason(name: str, label: str) -> None:
    assert customer_name_problem(name) == (
        f"QuickBooks Online does not allow {label} in a customer organization name ({name!r}). "
        "Rename it in OneDesk."
    )


def test_over_long_customer_name_is_refused_with_its_length() -> None:
    assert customer_name_problem("x" * 500) is None
    assert customer_name_problem("x" * 501) == (
        "The customer organization name is 501 characters long; QuickBooks Online allows 500. "
        "Shorten it in OneDesk."
    )


def test_over_long_service_type_is_refused_with_its_length() -> None:
    assert item_name_problem("s" * 100) is None
    assert item_name_problem("s" * 101) == (
        "The service type name is 101 characters long; QuickBooks Online allows 100. Shorten it in OneDesk."
    )


def test_service_type_with_a_colon_is_refused() -> None:
    assert item_name_problem("Support: L2") == (
        "QuickBooks Online does not allow a colon in a service type name ('Support: L2'). "
        "Rename it in OneDesk."
    )


def test_blank_name_is_refused() -> None:
    assert customer_name_problem("   ") == "The customer organization name is empty."


@pytest.mark.parametrize(
    "name", ["Bob\u2019s Surf Shop", "O'Brien & Sons", "Café Zürich", "Smith \u2013 Jones"]
)
def test_names_qbo_accepts_are_never_altered_or_refused(name: str) -> None:
    assert customer_name_problem(name) is None
    assert item_name_problem(name) is None


def test_required_item_names_are_distinct_in_first_seen_order() -> None:
    invoice = make_invoice(
        time_line(service_type="Support"),
        custom_line(),
        time_line(service_type="Design", hours="1", rate="10", amount="10.00"),
        time_line(service_type="Support"),
        custom_line(service_type="Design"),
        discount_line("-5.00"),
        tax_line("0.00"),
    )
    assert required_item_names(invoice) == ["Support", CUSTOM_CHARGE_ITEM, "Design"]


def test_item_name_for_a_missing_service_type_is_the_custom_charge_item() -> None:
    assert item_name_for(None) == "OneDesk custom charge"
    assert item_name_for("") == "OneDesk custom charge"
    assert item_name_for("Support") == "Support"
