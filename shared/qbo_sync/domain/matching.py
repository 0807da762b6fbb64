"""Matching rules (docs/product.md P11-P13): which QBO names a OneDesk invoice needs, which QBO refuses."""

from __future__ import annotations

import re

from qbo_sync.domain.onedesk import Invoice, LineKind

# Custom lines without a service type still need a QBO item (a line without ItemRef carries no amount).
CUSTOM_CHARGE_ITEM = "OneDesk custom charge"

_FORBIDDEN = {":": "a colon", "\t": "a tab", "\n": "a line break", "\r": "a line break"}
CUSTOMER_NAME_MAX = 500
ITEM_NAME_MAX = 100


def item_name_for(service_type: str | None) -> str:
    return service_type if service_type else CUSTOM_CHARGE_ITEM


def required_item_names(invoice: Invoice) -> list[str]:
    """Distinct QBO item names the invoice's billable lines need, in first-seen order."""
    names: dict[str, None] = {}
    for line in invoice.lines:
        if line.kind in (LineKind.TIME, LineKind.CUSTOM):
            names.setdefault(item_name_for(line.service_type), None)
    return list(names)


def _name_problem(name: str, what: str, max_length: int) -> str | None:
    if not name.strip():
        return f"The {what} name is empty."
    for char, label in _FORBIDDEN.items():
        if char in name:
            return (
                f"QuickBooks Online does not allow {label} in a {what} name ({name!r}). Rename it in OneDesk."
            )
    if len(name) > max_length:
        return (
            f"The {what} name is {len(name)} characters long; QuickBooks Online allows {max_length}. "
            "Shorten it in OneDesk."
        )
    return None


def customer_name_problem(name: str) -> str | None:
    """Why QBO would refuse this customer DisplayName, or None. Names are never silently altered."""
    return _name_problem(name, "customer organization", CUSTOMER_NAME_MAX)


def item_name_problem(name: str) -> str | None:
    return _name_problem(name, "service type", ITEM_NAME_MAX)


def lookup_fragment(name: str) -> str:
    """The longest run of letters, digits and spaces in ``name``: a LIKE pattern around it finds the
    name whatever its capitals, without punctuation QBO's query lexer may refuse."""
    return max(re.findall(r"[\w ]+", name), key=len, default="").strip()


def same_name_problem(what: str, name: str, existing: str, *, active: bool) -> str | None:
    """Why ``existing`` (a QBO name equal to ``name`` when capitals are ignored, as QBO compares names)
    cannot be used for ``name``; None when it is exactly ``name`` and active."""
    if existing == name and active:
        return None
    if existing != name:
        return (
            f"QuickBooks Online has a {what} named {existing!r}, which differs from {name!r} only in "
            "capitals. QuickBooks Online treats them as the same name, and a copy uses only an exact "
            "match: spell them the same in OneDesk and QuickBooks Online, then copy again."
        )
    return (
        f"QuickBooks Online has an inactive {what} named {name!r}: make it active in QuickBooks Online "
        "(or rename it there), then copy again."
    )
