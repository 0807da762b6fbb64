"""Pure parts of the admin's pages: signed links, sessions, CSRF tokens, tax choices and the tax
table, and the deduplication id of a resumed command."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand, command_deduplication_id
from qbo_sync.domain.onedesk import Invoice
from qbo_sync.domain.signing import (
    CONNECT_LINK_MAX_LIFETIME,
    connect_link_signature,
    csrf_token,
    session_tenant,
    session_value,
    sign,
    verify_connect_link,
    verify_csrf,
    verify_session,
)
from qbo_sync.domain.taxes import SeenTaxes, TaxCombination, TaxMode
from qbo_sync.domain.tenant import TaxOverride
from qbo_sync.usecases.connect import Choice, tax_choices, tax_rows
from tests.unit.builders import (
    CA_CATALOG,
    CA_TAX,
    US_CATALOG,
    ast_company,
    ca_company,
    make_invoice,
    settings,
    tax_line,
    time_line,
    us_company,
)

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
SECRET = "tenant-secret"


def link(
    tenant: str = "t-1", lifetime: timedelta = timedelta(minutes=5), secret: str = SECRET
) -> tuple[str, str]:
    expires = int((NOW + lifetime).timestamp())
    return str(expires), connect_link_signature(secret, tenant, expires)


def test_a_link_is_valid_for_its_tenant_until_it_expires() -> None:
    expires, sig = link()
    assert verify_connect_link(SECRET, "t-1", expires, sig, NOW)
    assert not verify_connect_link(SECRET, "t-2", expires, sig, NOW)  # another tenant
    assert not verify_connect_link("other-secret", "t-1", expires, sig, NOW)
    assert not verify_connect_link(SECRET, "t-1", expires, sig, NOW + timedelta(minutes=5))
    assert not verify_connect_link(SECRET, "t-1", expires, sig.upper(), NOW)
    for bad in (None, "", "-1", "12a", "1e9"):
        assert not verify_connect_link(SECRET, "t-1", bad, sig, NOW)
    assert not verify_connect_link(SECRET, "t-1", expires, None, NOW)


def test_a_link_claiming_a_long_life_is_refused() -> None:
    expires, sig = link(lifetime=CONNECT_LINK_MAX_LIFETIME + timedelta(seconds=1))
    assert not verify_connect_link(SECRET, "t-1", expires, sig, NOW)
    expires, sig = link(lifetime=CONNECT_LINK_MAX_LIFETIME)
    assert verify_connect_link(SECRET, "t-1", expires, sig, NOW)


def test_the_link_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET.encode(), b"t-1.1700000000", hashlib.sha256).hexdigest()
    assert connect_link_signature(SECRET, "t-1", 1700000000) == expected


@pytest.mark.parametrize("tenant", ["t-1", "acme.consulting", "a b;c=d,é"])
def test_a_session_names_its_tenant_is_cookie_safe_and_expires(tenant: str) -> None:
    expires = int((NOW + timedelta(hours=8)).timestamp())
    value = session_value(SECRET, tenant, expires)
    assert not set(value) & set(' ;,"\\')
    assert session_tenant(value) == tenant
    assert verify_session(SECRET, value, NOW)
    assert not verify_session(SECRET, value, NOW + timedelta(hours=8))
    assert not verify_session("other-secret", value, NOW)


def test_a_session_cannot_be_forged_from_other_signatures() -> None:
    expires = int((NOW + timedelta(hours=1)).timestamp())
    real = session_value(SECRET, "t-1", expires)
    link_sig = connect_link_signature(SECRET, "t-1", expires)
    for forged in (
        f"t-1.{expires}.{link_sig}",  # a link's signature is not a session's
        real.replace("t-1", "t-2", 1),
        real.replace(str(expires), str(expires + 3600)),
        f"t%2D1.{real.split('.', 1)[1]}",  # another spelling of the same tenant
        "garbage",
        "",
    ):
        assert not verify_session(SECRET, forged, NOW), forged


def test_csrf_tokens_belong_to_one_session() -> None:
    expires = int((NOW + timedelta(hours=1)).timestamp())
    mine, theirs = session_value(SECRET, "t-1", expires), session_value(SECRET, "t-2", expires)
    token = csrf_token(SECRET, mine)
    assert verify_csrf(SECRET, mine, token)
    assert not verify_csrf(SECRET, theirs, token)
    assert not verify_csrf(SECRET, mine, None)
    assert not verify_csrf(SECRET, mine, "")
    assert token != sign(SECRET, expires, mine.encode())


def test_us_offers_non_and_its_sales_tax_codes() -> None:
    # Which QBO codes are sales codes at all (active, readable rates, never TAX/NON) is
    # test_taxes.py's catalog_codes test.
    choices, exempt = tax_choices(us_company(), US_CATALOG.codes)
    assert choices == [
        Choice("NON", "Not taxable (NON)"),
        Choice("7", "CA State", Decimal("8.25")),
        Choice("9", "Indiana", Decimal(7)),
        Choice("8", "Lakeside", Decimal("8.25")),
    ]
    assert exempt is None


def test_automated_sales_tax_offers_only_qbos_own_calculation() -> None:
    choices, exempt = tax_choices(ast_company(), US_CATALOG.codes)
    assert choices == [Choice("TAX", "Automated Sales Tax (QuickBooks Online calculates the tax)")]
    assert exempt is None


def test_elsewhere_combined_rates_add_up_and_a_zero_rate_code_is_the_exempt_one() -> None:
    choices, exempt = tax_choices(ca_company(), CA_CATALOG.codes)
    assert [(c.id, c.rate_percent) for c in choices] == [
        ("3", Decimal(0)),
        ("4", Decimal(5)),
        ("6", Decimal(12)),
        ("5", Decimal(13)),
    ]
    assert exempt == Choice("3", "Exempt", Decimal(0))


def test_the_tax_table_lists_no_tax_then_the_combinations_seen_most_recent_first() -> None:
    def seen(invoice: Invoice, minutes: int) -> SeenTaxes:
        return SeenTaxes(
            combination=TaxCombination.of(invoice),
            first_invoice_number=invoice.number,
            first_seen_at=NOW + timedelta(minutes=minutes),
        )

    hst = make_invoice(time_line(), tax_line("23.40", "13", "HST"), number="INV-1")
    gst_pst = make_invoice(
        time_line(), tax_line("9.00", "5", "GST"), tax_line("12.60", "7", "PST"), number="INV-2"
    )
    odd = make_invoice(time_line(), tax_line("18.00", "10", "Odd"), number="INV-3")
    catalog = CA_CATALOG.model_copy(update={"seen": (seen(hst, 1), seen(gst_pst, 2), seen(odd, 3))})
    chosen = CA_TAX.model_copy(update={"overrides": (TaxOverride(key="hst@13%", code_id="4"),)})

    rows = tax_rows(TaxMode.PER_LINE, catalog, settings(chosen))

    assert [(r.key, r.label, r.first_invoice, r.automatic, r.chosen) for r in rows] == [
        ("", "No tax (invoices without tax lines)", None, Choice("3", "Exempt", Decimal(0)), None),
        ("odd@10%", "Odd 10%", "INV-3", None, None),
        ("gst@5% + pst@7%", "GST 5% + PST 7%", "INV-2", Choice("6", "GST/PST BC", Decimal(12)), None),
        ("hst@13%", "HST 13%", "INV-1", Choice("5", "HST ON", Decimal(13)), "4"),
    ]
    assert [r.key for r in tax_rows(TaxMode.US, catalog, settings(chosen))] == [
        "odd@10%",
        "gst@5% + pst@7%",
        "hst@13%",
    ]
    assert tax_rows(TaxMode.US_AUTOMATED, catalog, None) == []


def test_a_resumed_command_is_not_a_duplicate_of_the_one_that_was_parked() -> None:
    parked = InvoiceCommand(
        tenant_id="t-1",
        invoice_id="1003",
        action=InvoiceAction.SEND,
        request_id="r-1",
        requested_at=NOW,
        source="api",
    )
    first = parked.model_copy(update={"source": "parked", "resumed_at": NOW + timedelta(minutes=1)})
    second = parked.model_copy(update={"source": "parked", "resumed_at": NOW + timedelta(minutes=2)})
    ids = {command_deduplication_id(c) for c in (parked, first, second)}
    assert len(ids) == 3
    assert command_deduplication_id(first) == command_deduplication_id(first.model_copy())
