"""qbo_connect end to end in-process: connect through the emulator's consent page, settings, switching
company, disconnecting, and resuming parked work (docs/product.md P1-P4, issue [connect])."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from boto3.dynamodb.types import Binary

from qbo_sync import wiring
from qbo_sync.adapters.store.keys import tenant_pk, tenant_realm_pk
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import ConnectionStatus
from qbo_sync.domain.taxes import OneDeskTax, SeenTaxes, TaxCombination
from qbo_sync.domain.tenant import TaxOverride, Tenant
from qbo_sync.usecases.invoice_commands import handle_invoice_command
from tests.integration.qbo.conftest import CLIENT_SECRET, LogCapture

from .conftest import PUBLIC_BASE_URL, Admin, World, hidden_fields, signed_link

US_REALM = "9130350000000001"
CA_REALM = "9130350000000002"


def connected(world: World, tenant: Tenant, realm: str = US_REALM) -> Admin:
    admin = world.admin(tenant)
    reply = world.connect(admin, tenant, realm)
    assert reply.status == 303, reply.body
    return admin


def save(admin: Admin, **fields: str) -> Any:
    form = {"csrf": admin.csrf(), "copy_when_opened": "on", "send_when_marked_sent": "on", **fields}
    return admin.post("/qbo/settings", {k: v for k, v in form.items() if v != "off"})


def park_copy(world: World, tenant: Tenant, action: InvoiceAction = InvoiceAction.COPY) -> InvoiceCommand:
    """A "Copy" (or "Send") request for an Open OneDesk invoice, handled by the product: parked while
    blocked."""
    account = world.onedesk_accounts[tenant.tenant_id]
    invoice = world.onedesk.invoice(account)
    world.onedesk.move(invoice["id"], "Open")
    command = InvoiceCommand(
        tenant_id=tenant.tenant_id,
        invoice_id=invoice["id"],
        action=action,
        request_id=f"req-{invoice['id']}",
        requested_at=datetime.now(UTC),
        source="api",
    )
    wiring.invoice_command_queue().enqueue(command)  # as POST /onedesk/commands would
    result = handle_invoice_command(command, wiring.command_ports())
    assert result.outcome is Outcome.PARKED, result
    return command


# ---------------------------------------------------------------- connecting


def test_connect_redirects_to_intuit_with_the_accounting_scope_and_a_single_use_state(world: World) -> None:
    tenant = world.tenant()
    admin = Admin(world.module)
    start = admin.get("/qbo/connect", signed_link(tenant))
    assert start.status == 302
    url = urlsplit(start.location)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{world.qbo_url}/connect/oauth2"
    assert query["scope"] == "com.intuit.quickbooks.accounting"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"{PUBLIC_BASE_URL}/qbo/callback"
    assert len(query["state"]) == 43
    state_item = world.item(f"OAUTHSTATE#{query['state']}", "OAUTHSTATE")
    assert state_item is not None and state_item["tenant_id"] == tenant.tenant_id
    expires_in = int(state_item["expires_at"]) - datetime.now(UTC).timestamp()
    assert 540 < expires_in <= 600
    # The session cookie: HttpOnly, SameSite=Lax, scoped to /qbo, not Secure on the local stage.
    (cookie,) = start.cookies
    assert cookie.startswith("qbo_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "secure" not in attributes
    assert "SameSite=Lax" in cookie and "Path=/qbo" in cookie


def test_callback_stores_encrypted_tokens_reads_the_company_and_shows_settings(world: World) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    reply = world.connect(admin, tenant, US_REALM)
    assert reply.status == 303
    assert reply.location.startswith("/qbo/settings?notice=connected")

    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None
    assert connection.status is ConnectionStatus.CONNECTED
    assert connection.realm_id == US_REALM
    assert connection.company_name == "Sandbox Company US"
    assert connection.country == "US"
    assert connection.home_currency == "USD"
    assert connection.custom_txn_numbers is True
    assert connection.using_sales_tax is True

    page = admin.get("/qbo/settings", {"notice": "connected", "resumed": "0"})
    assert page.status == 200
    assert "Connected to QuickBooks Online." in page.body
    assert "Sandbox Company US" in page.body
    for account in ("Services", "Sales of Product Income", "Discounts given"):
        assert f">{account}</option>" in page.body
    assert "Undeposited Funds" not in page.body  # not an Income account
    assert ">Not taxable (NON)</option>" in page.body
    assert ">California (8.25%)</option>" in page.body
    assert ">TAX</option>" not in page.body  # the line-level pseudo code is not a default
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"

    # Nothing in the table holds a token in plaintext (every item, every attribute, bytes included).
    stored = wiring.connection_store().get_tokens(tenant.tenant_id)
    assert stored is not None
    secrets = [stored[1].access_token.get_secret_value(), stored[1].refresh_token.get_secret_value()]
    assert_no_plaintext(world, secrets)
    for text in (page.body, reply.body):
        assert not any(secret in text for secret in secrets)


def _raw(value: Any) -> bytes:
    """Every attribute as bytes: strings, numbers, binary (boto3's Binary), nested maps and lists."""
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, dict):
        return b"|".join(_raw(k) + b"=" + _raw(v) for k, v in value.items())
    if isinstance(value, list | set):
        return b"|".join(_raw(v) for v in value)
    return str(value).encode()


def assert_no_plaintext(world: World, secrets: list[str]) -> None:
    items = world.items()
    assert any(item["sk"] == "CONNECTION" for item in items)
    for item in items:
        raw = _raw(item)
        for secret in secrets:
            assert secret.encode() not in raw, f"plaintext token in {item['pk']} {item['sk']}"


def test_settings_save_us_tax_code_reads_its_rate_and_non_means_no_rate(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    reply = save(admin, income_account_id="79", tax_code_id="2")
    assert reply.status == 303 and reply.location.startswith("/qbo/settings?notice=saved")
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, US_REALM)
    assert settings is not None and settings.complete
    assert settings.default_income_account_name == "Services"
    assert settings.tax.tax_code_id == "2"
    assert settings.tax.tax_code_name == "California"
    assert settings.tax.rate_percent == Decimal("8.25")
    # The codes the page read are the snapshot copies choose from (no QBO request per copy).
    catalog = wiring.tenant_store().get_tax_catalog(tenant.tenant_id, US_REALM)
    assert {(c.code_id, c.name, c.percent) for c in catalog.codes} == {
        ("2", "California", Decimal("8.25")),
        ("3", "Lakeside", Decimal("8.25")),
        ("4", "Indiana", Decimal(7)),
    }
    assert catalog.read_at is not None

    save(admin, income_account_id="80", tax_code_id="NON", send_when_marked_sent="off")
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, US_REALM)
    assert settings is not None
    assert settings.tax.tax_code_id == "NON" and settings.tax.rate_percent is None
    assert settings.default_income_account_id == "80"
    saved_tenant = wiring.tenant_store().get_tenant(tenant.tenant_id)
    assert saved_tenant is not None
    assert saved_tenant.trigger_policy.copy_when_opened is True
    assert saved_tenant.trigger_policy.send_when_marked_sent is False
    page = admin.get("/qbo/settings")
    assert '<option value="80" selected>' in page.body
    assert 'name="send_when_marked_sent">' in page.body  # unchecked now
    assert "settings" in page.body and "income account Sales of Product Income" in page.body


def test_non_us_company_offers_its_real_codes_and_picks_the_zero_rate_code_for_untaxed_lines(
    world: World,
) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant, CA_REALM)
    page = admin.get("/qbo/settings")
    for label in ("GST (5%)", "HST ON (13%)", "Exempt (0%)", "GST/PST BC (12%)"):
        assert f">{label}</option>" in page.body
    assert "Not taxable (NON)" not in page.body
    # The tax table's first row: invoices without tax, automatically on the 0 % code.
    assert "No tax (invoices without tax lines)" in page.body
    assert '<option value="" selected>Automatic: Exempt (0%)</option>' in page.body
    save(admin, income_account_id="79", tax_code_id="4")
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, CA_REALM)
    assert settings is not None
    assert (settings.tax.tax_code_id, settings.tax.rate_percent) == ("4", Decimal(13))
    assert settings.tax.overrides == ()


def _seen(tenant: Tenant, realm: str, invoice_number: str, *taxes: tuple[str, str]) -> TaxCombination:
    """A combination of OneDesk taxes as a copy records it (the copy itself is exercised end to end)."""
    combination = TaxCombination(
        taxes=tuple(OneDeskTax(name=name, rate_percent=Decimal(rate)) for name, rate in taxes)
    )
    seen = SeenTaxes(
        combination=combination, first_invoice_number=invoice_number, first_seen_at=datetime.now(UTC)
    )
    wiring.tenant_store().record_taxes_seen(tenant.tenant_id, realm, seen)
    return combination


def test_the_tax_table_shows_the_taxes_copies_met_and_saves_the_admins_choices(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant, CA_REALM)
    save(admin, income_account_id="79", tax_code_id="3")
    gst_pst = _seen(tenant, CA_REALM, "INV-0007", ("GST", "5"), ("PST", "7"))
    odd = _seen(tenant, CA_REALM, "INV-0009", ("Levy <b>", "9"))

    page = admin.get("/qbo/settings")
    assert "GST 5% + PST 7%" in page.body and "INV-0007" in page.body
    assert '<option value="" selected>Automatic: GST/PST BC (12%)</option>' in page.body
    assert "Levy &lt;b&gt; 9%" in page.body and "Levy <b>" not in page.body  # escaped
    assert "Automatic: no code has these rates" in page.body
    rows = {
        v: k.removeprefix("tax_key_") for k, v in hidden_fields(page.body).items() if k.startswith("tax_key_")
    }
    assert set(rows) == {"", gst_pst.key, odd.key}

    # Choices are stored as given ("Exempt" for untaxed invoices, HST ON for GST + PST); whether a code
    # reproduces an invoice's tax is checked when the invoice is copied.
    chosen = {
        f"tax_code_{rows['']}": "5",
        f"tax_code_{rows[gst_pst.key]}": "4",
        f"tax_code_{rows[odd.key]}": "",
    }
    keys = {f"tax_key_{index}": key for key, index in rows.items()}
    reply = save(admin, income_account_id="79", tax_code_id="3", **keys, **chosen)
    assert reply.status == 303, reply.body
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, CA_REALM)
    assert settings is not None
    assert settings.tax.overrides == (
        TaxOverride(key="", code_id="5"),
        TaxOverride(key=gst_pst.key, code_id="4"),
    )
    page = admin.get("/qbo/settings")
    assert '<option value="4" selected>HST ON (13%)</option>' in page.body
    assert '<option value="5" selected>Exempt (0%)</option>' in page.body
    assert "-&gt; tax code 4" in page.body  # the audit row of the save

    # A form without the table (e.g. from an older page) keeps the choices.
    save(admin, income_account_id="80", tax_code_id="3")
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, CA_REALM)
    assert settings is not None and len(settings.tax.overrides) == 2


def test_a_tax_choice_the_table_did_not_offer_is_refused_and_nothing_is_saved(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant, CA_REALM)
    gst_pst = _seen(tenant, CA_REALM, "INV-0007", ("GST", "5"), ("PST", "7"))
    for table in (
        {"tax_key_0": gst_pst.key, "tax_code_0": "TAX"},  # not one of the company's codes
        {"tax_key_0": "vat@20%", "tax_code_0": "4"},  # not a row of the table
    ):
        reply = save(admin, income_account_id="79", tax_code_id="3", **table)
        assert reply.status == 400
        assert "Nothing was saved" in reply.body
    assert wiring.tenant_store().get_settings(tenant.tenant_id, CA_REALM) is None


def test_an_automated_sales_tax_company_lets_qbo_calculate_and_has_no_tax_table(world: World) -> None:
    realm = world.qbo_company("US", automated_sales_tax=True)
    tenant = world.tenant()
    admin = connected(world, tenant, realm)
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.automated_sales_tax is True

    page = admin.get("/qbo/settings")
    assert ">Automated Sales Tax (QuickBooks Online calculates the tax)</option>" in page.body
    assert "Not taxable (NON)" not in page.body
    assert 'id="taxes"' not in page.body
    reply = save(admin, income_account_id="79", tax_code_id="TAX")
    assert reply.status == 303, reply.body
    settings = wiring.tenant_store().get_settings(tenant.tenant_id, realm)
    assert settings is not None and settings.complete and settings.tax.tax_code_id == "TAX"


def test_an_account_or_tax_code_not_offered_is_refused_and_nothing_is_saved(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    for fields in (
        {"income_account_id": "4", "tax_code_id": "2"},
        {"income_account_id": "79", "tax_code_id": "TAX"},
    ):
        reply = save(admin, **fields)
        assert reply.status == 400
        assert "Nothing was saved" in reply.body
    assert wiring.tenant_store().get_settings(tenant.tenant_id, US_REALM) is None


def test_access_denied_at_intuit_is_a_calm_page_and_stores_nothing(world: World) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    reply = world.connect(admin, tenant, US_REALM, decision="deny")
    assert reply.status == 200
    assert "You cancelled at Intuit, so nothing changed" in reply.body
    assert wiring.connection_store().get(tenant.tenant_id) is None
    assert world.token_calls() == []


def test_below_premium_sees_why_and_no_state_is_issued(world: World) -> None:
    tenant = world.tenant(plan="Growth")
    reply = Admin(world.module).get("/qbo/connect", signed_link(tenant))
    assert reply.status == 403
    assert "Growth" in reply.body and "Premium" in reply.body
    assert not [item for item in world.items() if str(item["pk"]).startswith("OAUTHSTATE#")]


# ---------------------------------------------------------------- switching company


def test_a_different_company_needs_confirmation_and_old_mappings_are_not_reused(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant, US_REALM)
    save(admin, income_account_id="79", tax_code_id="2")
    wiring.mapping_store().link_customer(tenant.tenant_id, US_REALM, "org-1", "58")

    reply = world.connect(admin, tenant, CA_REALM)
    assert reply.status == 200
    assert "Switch to a different QuickBooks Online company?" in reply.body
    assert "Sandbox Company US" in reply.body and CA_REALM in reply.body
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.realm_id == US_REALM  # nothing switched yet
    pending = world.item(tenant_pk(tenant.tenant_id), "PENDING_CONNECTION")
    assert pending is not None and "tokens" in pending  # sealed, with a TTL
    assert int(pending["expires_at"]) - datetime.now(UTC).timestamp() <= 600

    revokes_before = len(world.revokes())
    confirm = admin.post("/qbo/confirm-switch", {**hidden_fields(reply.body), "decision": "confirm"})
    assert confirm.status == 303
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None
    assert (connection.realm_id, connection.country, connection.company_name) == (
        CA_REALM,
        "CA",
        "Sandbox Company CA",
    )
    assert len(world.revokes()) == revokes_before + 1  # the old company's grant
    assert wiring.mapping_store().customer_id(tenant.tenant_id, CA_REALM, "org-1") is None
    assert wiring.mapping_store().customer_id(tenant.tenant_id, US_REALM, "org-1") == "58"
    assert wiring.tenant_store().get_settings(tenant.tenant_id, CA_REALM) is None
    page = admin.get("/qbo/settings")
    assert "Sandbox Company CA" in page.body and "Choose an income account" in page.body
    # Confirming twice does nothing more.
    again = admin.post("/qbo/confirm-switch", {"csrf": admin.csrf(), "decision": "confirm"})
    assert again.status == 400


def test_keeping_the_current_company_revokes_the_new_tokens(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant, US_REALM)
    reply = world.connect(admin, tenant, CA_REALM)
    revokes_before = len(world.revokes())
    kept = admin.post("/qbo/confirm-switch", {**hidden_fields(reply.body), "decision": "cancel"})
    assert kept.status == 303 and "notice=kept" in kept.location
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.realm_id == US_REALM
    assert connection.status is ConnectionStatus.CONNECTED
    assert len(world.revokes()) == revokes_before + 1
    assert world.revokes()[-1]["realmId"] == CA_REALM
    assert world.item(tenant_pk(tenant.tenant_id), "PENDING_CONNECTION") is None


def test_a_company_connected_to_another_tenant_is_refused(world: World) -> None:
    first, second = world.tenant("First"), world.tenant("Second")
    connected(world, first, US_REALM)
    admin = world.admin(second)
    reply = world.connect(admin, second, US_REALM)
    assert reply.status == 409
    assert "connected to another OneDesk account" in reply.body
    assert wiring.connection_store().get(second.tenant_id) is None
    assert world.revokes()[-1]["realmId"] == US_REALM


# ---------------------------------------------------------------- disconnecting, parked work


def test_disconnect_revokes_forgets_tokens_keeps_mappings_and_parks_the_next_copy(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    save(admin, income_account_id="79", tax_code_id="2")
    wiring.mapping_store().link_customer(tenant.tenant_id, US_REALM, "org-1", "58")
    stored = wiring.connection_store().get_tokens(tenant.tenant_id)
    assert stored is not None

    reply = admin.post("/qbo/disconnect", {"csrf": admin.csrf()})
    assert reply.status == 200
    assert "Disconnected from <strong>Sandbox Company US</strong>" in reply.body
    assert "are kept" in reply.body

    (revoke,) = world.revokes()
    assert revoke["status"] == 200 and revoke["outcome"] == "revoked" and revoke["realmId"] == US_REALM
    item = world.item(tenant_pk(tenant.tenant_id), "CONNECTION")
    assert item is not None and "tokens" not in item and item["status"] == "disconnected"
    assert world.item(tenant_realm_pk(tenant.tenant_id, US_REALM), "CUSTOMER#org-1") is not None
    assert wiring.connection_store().get_tokens(tenant.tenant_id) is None

    park_copy(world, tenant)
    assert len(wiring.parked_work().parked(tenant.tenant_id)) == 1
    (record, *_) = wiring.audit_log().recent(tenant.tenant_id)
    assert record.outcome is Outcome.PARKED
    assert record.reason is not None and "needs to be reconnected" in record.reason
    page = admin.get("/qbo/settings")
    assert (
        "Commands waiting</dt><dd>1 — waiting because QuickBooks Online needs to be reconnected" in page.body
    )


def test_saving_complete_settings_queues_parked_work_again_past_fifo_deduplication(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    command = park_copy(world, tenant)  # settings incomplete: parked
    world.queued_commands()  # drain the original message (same deduplication id as before the fix)
    assert (
        "Commands waiting</dt><dd>1 — waiting because the integration settings"
        in admin.get("/qbo/settings").body
    )

    reply = save(admin, income_account_id="79", tax_code_id="2")
    assert reply.location == "/qbo/settings?notice=saved&resumed=1"
    (queued,) = world.queued_commands()
    assert queued["invoice_id"] == command.invoice_id
    assert queued["source"] == "parked" and queued["resumed_at"]
    assert queued["request_id"] == command.request_id
    assert wiring.parked_work().count_parked(tenant.tenant_id) == 0
    page = admin.get("/qbo/settings", {"notice": "saved", "resumed": "1"})
    assert "1 waiting invoice command queued again." in page.body


def test_reconnecting_resumes_parked_work_when_the_settings_are_complete(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    save(admin, income_account_id="79", tax_code_id="2")
    admin.post("/qbo/disconnect", {"csrf": admin.csrf()})
    park_copy(world, tenant)
    world.queued_commands()

    reconnect_link = hidden_fields(admin.get("/qbo/settings").body)["csrf"]
    start = admin.get("/qbo/connect", {"csrf": reconnect_link})  # the page's Reconnect button
    assert start.status == 302
    reply = admin.get("/qbo/callback", world.consent(start.location, US_REALM))
    assert reply.location == "/qbo/settings?notice=connected&resumed=1"
    (queued,) = world.queued_commands()
    assert queued["source"] == "parked"
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.status is ConnectionStatus.CONNECTED


def test_a_send_parked_while_disconnected_is_copied_on_reconnect_and_emailed_only_once_confirmed(
    world: World,
) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    save(admin, income_account_id="79", tax_code_id="2")
    admin.post("/qbo/disconnect", {"csrf": admin.csrf()})
    send = park_copy(world, tenant, InvoiceAction.SEND)
    world.queued_commands()

    start = admin.get("/qbo/connect", {"csrf": hidden_fields(admin.get("/qbo/settings").body)["csrf"]})
    admin.get("/qbo/callback", world.consent(start.location, US_REALM))
    (copy,) = world.queued_commands()
    assert (copy["action"], copy["invoice_id"], copy["source"]) == ("copy", send.invoice_id, "parked")
    page = admin.get("/qbo/settings")
    assert "Sends waiting for your confirmation" in page.body
    assert f'name="invoice_id" value="{send.invoice_id}"' in page.body

    # A form without the session's CSRF token changes nothing; an unknown choice is a 400.
    form = {"invoice_id": send.invoice_id, "decision": "send"}
    assert admin.post("/qbo/parked-sends", form).status == 403
    assert admin.post("/qbo/parked-sends", {**form, "csrf": admin.csrf(), "decision": "now"}).status == 400
    assert world.queued_commands(wait_seconds=0.5) == []

    reply = admin.post("/qbo/parked-sends", {**form, "csrf": admin.csrf()})
    assert reply.location == "/qbo/settings?notice=send-send"
    (queued,) = world.queued_commands()
    assert (queued["action"], queued["request_id"], queued["source"]) == ("send", send.request_id, "parked")
    assert wiring.parked_work().count_parked(tenant.tenant_id) == 0
    again = admin.post("/qbo/parked-sends", {**form, "csrf": admin.csrf()})
    assert again.status == 409 and "already decided" in again.body


def test_unpark_keeps_a_command_parked_again_meanwhile(world: World) -> None:
    tenant = world.tenant()
    command = park_copy(world, tenant)
    (read_back,) = wiring.parked_work().parked(tenant.tenant_id)
    assert read_back.model_dump_json() == command.model_dump_json()  # the condition compares this
    again = command.model_copy(update={"source": "parked", "resumed_at": datetime.now(UTC)})
    wiring.parked_work().park(again, "still blocked")
    wiring.parked_work().unpark(command)
    assert wiring.parked_work().parked(tenant.tenant_id) == [again]


def test_activity_lists_the_latest_audit_records_escaped(world: World) -> None:
    tenant = world.tenant(name='Acme <script>alert("x")</script>')
    admin = connected(world, tenant)
    page = admin.get("/qbo/settings")
    assert "<script>" not in page.body
    assert "Acme &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.body
    assert "connected to Sandbox Company US (US)" in page.body


def test_session_expires_after_eight_hours(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    assert admin.get("/qbo/settings").status == 200
    later = datetime.now(UTC) + timedelta(hours=8, seconds=1)
    monkeypatch.setattr(wiring, "utc_now", lambda: later)
    reply = admin.get("/qbo/settings")
    assert reply.status == 403 and "Your session has expired" in reply.body


def test_no_token_code_or_secret_in_logs_pages_or_errors(world: World, captured_logs: LogCapture) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    start = admin.get("/qbo/connect", signed_link(tenant))
    callback = world.consent(start.location, US_REALM)
    pages = [start, admin.get("/qbo/callback", callback)]
    stored = wiring.connection_store().get_tokens(tenant.tenant_id)
    assert stored is not None
    pages.append(admin.get("/qbo/settings"))
    pages.append(admin.get("/qbo/callback", callback))  # replayed: an error page
    pages.append(admin.post("/qbo/disconnect", {"csrf": admin.csrf()}))
    secrets = [
        stored[1].access_token.get_secret_value(),
        stored[1].refresh_token.get_secret_value(),
        callback["code"],
        CLIENT_SECRET,
        tenant.shared_secret.get_secret_value(),
        tenant.onedesk_api_key.get_secret_value(),
    ]
    lines = captured_logs.lines()
    assert any("qbo request" in line for line in lines)  # the capture works
    for secret in secrets:
        assert not [line for line in lines if secret in line]
        assert not [page for page in pages if secret in page.body or secret in str(page.headers)]


def test_an_unreadable_company_profile_connects_but_keeps_work_parked_until_a_reconnect(world: World) -> None:
    tenant = world.tenant()
    world.stack.control.fault(path_regex="companyinfo", status=400, count=1)
    admin = world.admin(tenant)
    reply = world.connect(admin, tenant, US_REALM)
    assert reply.location == "/qbo/settings?notice=connected-unread"
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.country is None
    page = admin.get("/qbo/settings", {"notice": "connected-unread"})
    assert "could not be read from QuickBooks Online" in page.body
    assert "country is not known yet" in page.body
    (record, *_) = wiring.audit_log().recent(tenant.tenant_id)
    assert record.outcome is Outcome.WARNING
    # Connecting again reads it.
    assert world.connect(admin, tenant, US_REALM).location.startswith("/qbo/settings?notice=connected&")
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.country == "US"


def test_a_grant_revoked_at_intuit_shows_needs_reconnect_and_why(world: World) -> None:
    tenant = world.tenant()
    admin = connected(world, tenant)
    stored = wiring.connection_store().get_tokens(tenant.tenant_id)
    assert stored is not None
    world.stack.oauth().revoke(stored[1].refresh_token)  # e.g. the user disconnected the app in QBO
    world.stack.control.expire_access_tokens(US_REALM)
    page = admin.get("/qbo/settings")
    assert page.status == 200
    assert "Needs reconnecting</span> — Intuit OAuth HTTP 400: invalid_grant" in page.body
    assert ">Reconnect</a>" in page.body
    assert "could not be read" in page.body
    connection = wiring.connection_store().get(tenant.tenant_id)
    assert connection is not None and connection.status is ConnectionStatus.NEEDS_RECONNECT
