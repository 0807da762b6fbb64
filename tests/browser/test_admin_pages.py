"""The admin's story in a real browser over the whole local stack: a copy request waits (parked) while
QuickBooks Online is not connected; the admin opens the settings from OneDesk, connects through the
emulator's consent page, chooses the defaults, the waiting copy runs, then disconnects, and the next
copy waits for a reconnect. Each page is saved under artifacts/screenshots/.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from local.controls import OneDeskControl, QboControl, wait_for
from local.operator import send_command, signed_link
from qbo_sync.domain.tenant import Tenant
from tests.onedesk.sandbox_control import TIME_LINE, SandboxControl

from .conftest import Stack

pytestmark = pytest.mark.browser

US_REALM = "9130350000000001"
TIMEOUT = 30


def signed(stack: Stack, tenant: Tenant, path: str) -> str:
    return signed_link(stack.url, tenant, path, lifetime_seconds=300)


def request_copy(stack: Stack, tenant: Tenant, invoice_id: str) -> None:
    """OneDesk's "Copy to QuickBooks Online" button (a signed POST /onedesk/commands)."""
    reply = send_command(stack.url, tenant, invoice_id, "copy", uuid.uuid4().hex)
    assert reply.status_code == 202, reply.text


def parked(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    return [
        item
        for item in stack.scan()
        if item["pk"]["S"] == f"TENANT#{tenant.tenant_id}" and item["sk"]["S"].startswith("PARKED#")
    ]


def qbo(stack: Stack, method: str, path: str) -> Any:
    reply = requests.request(method, f"{stack.qbo.base_url}{path}", timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_connect_choose_defaults_resume_and_disconnect(
    local_stack: Stack, page: Page, screenshots: Callable[[Page, str], Path]
) -> None:
    stack = local_stack
    onedesk = SandboxControl(stack.onedesk)
    account = onedesk.tenant(name="Acme Consulting", plan="Premium", customer="Globex")
    tenant = Tenant(
        tenant_id=account.account_id,
        name="Acme Consulting",
        onedesk_api_key=SecretStr(account.api_key),
        shared_secret=SecretStr(f"shared-{uuid.uuid4().hex}"),
    )
    stack.tenant_store().save_tenant(tenant)

    # A copy requested before QuickBooks Online is connected waits.
    first = onedesk.invoice(account, number="INV-1001")
    onedesk.move(first["id"], "Open")
    request_copy(stack, tenant, first["id"])
    wait_for(lambda: parked(stack, tenant), what="the first copy to be parked")

    # OneDesk > Administration > Financials opens the settings with a signed link.
    page.goto(signed(stack, tenant, "/qbo/settings"))
    expect(page).to_have_url(f"{stack.url}/qbo/settings")  # the signature left the address bar
    expect(page.locator("dd", has_text="waiting because QuickBooks Online is not connected")).to_be_visible()
    screenshots(page, "01-settings-not-connected")

    page.get_by_role("link", name="Connect to QuickBooks Online").click()
    expect(page.locator("select[name=realmId]")).to_be_visible()
    assert page.url.startswith(f"{stack.qbo.base_url}/connect/oauth2")
    screenshots(page, "02-intuit-consent")
    page.select_option("select[name=realmId]", US_REALM)
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{stack.url}/qbo/settings?notice=connected&resumed=0")
    expect(page.get_by_text("Connected to QuickBooks Online.")).to_be_visible()
    expect(page.locator("dd", has_text="Sandbox Company US")).to_be_visible()
    expect(page.locator("dd", has_text="waiting because the integration settings")).to_be_visible()
    screenshots(page, "03-settings-connected")

    # No token reached the table in plaintext.
    issued = [*stack.qbo.state.oauth.access_tokens, *stack.qbo.state.oauth.refresh_tokens]
    assert issued
    dump = json.dumps(stack.scan(), default=str)
    assert not [token for token in issued if token in dump]

    page.select_option("#income_account_id", "79")
    page.select_option("#tax_code_id", "2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved. 1 waiting invoice command queued again.")).to_be_visible()
    screenshots(page, "04-settings-saved")

    # The parked copy runs: the invoice is in QBO, and the activity links to it.
    invoices = wait_for(
        lambda: qbo(stack, "GET", f"/_sandbox/entities/{US_REALM}/Invoice"), what="the invoice in QBO"
    )
    qbo_invoice = (invoices["Invoice"] if isinstance(invoices, dict) else invoices)[0]
    assert qbo_invoice["DocNumber"] == "INV-1001"
    assert not parked(stack, tenant)
    page.reload()
    link = page.get_by_role("link", name="Open in QuickBooks").first
    expect(link).to_have_attribute(
        "href", f"https://app.sandbox.qbo.intuit.com/app/invoice?txnId={qbo_invoice['Id']}"
    )
    expect(page.locator("tr", has_text="INV-1001").first).to_contain_text("done")
    screenshots(page, "05-activity-after-copy")

    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", name="QuickBooks Online disconnected")).to_be_visible()
    expect(page.get_by_text("links between OneDesk and this company")).to_be_visible()
    screenshots(page, "06-disconnected")
    revokes = [e for e in qbo(stack, "GET", "/_sandbox/requests") if e["path"].endswith("/tokens/revoke")]
    assert [(e["status"], e["outcome"]) for e in revokes] == [(200, "revoked")]

    # The next copy is not lost: it waits for a reconnect.
    second = onedesk.invoice(account, number="INV-1002")
    onedesk.move(second["id"], "Open")
    request_copy(stack, tenant, second["id"])
    wait_for(lambda: parked(stack, tenant), what="the second copy to be parked")
    (waiting,) = parked(stack, tenant)
    assert "needs to be reconnected" in waiting["reason"]["S"]
    page.get_by_role("link", name="Back to the settings").click()
    expect(
        page.locator("dd", has_text="1 — waiting because QuickBooks Online needs to be reconnected")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Reconnect")).to_be_visible()
    screenshots(page, "07-settings-waiting-for-reconnect")


def test_refusals_cancelling_and_switching_company(
    local_stack: Stack, page: Page, screenshots: Callable[[Page, str], Path]
) -> None:
    stack = local_stack
    onedesk = SandboxControl(stack.onedesk)
    store = stack.tenant_store()

    def tenant(name: str, plan: str) -> Tenant:
        account = onedesk.tenant(name=name, plan=plan)
        created = Tenant(
            tenant_id=account.account_id,
            name=name,
            onedesk_api_key=SecretStr(account.api_key),
            shared_secret=SecretStr(f"shared-{uuid.uuid4().hex}"),
        )
        store.save_tenant(created)
        return created

    def company(name: str, country: str) -> str:
        reply = requests.post(
            f"{stack.qbo.base_url}/_sandbox/companies",
            json={"name": name, "country": country},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 200, reply.text
        realm: str = reply.json()["realmId"]
        return realm

    growth = tenant("Small Shop", "Growth")
    page.goto(signed(stack, growth, "/qbo/connect"))
    expect(
        page.get_by_role("heading", name="QuickBooks Online is not available on your plan")
    ).to_be_visible()
    screenshots(page, "08-not-eligible")

    premium = tenant("Northwind Services", "Enterprise")
    expired = signed(stack, premium, "/qbo/settings").replace("expires=", "expires=1")
    page.goto(expired)
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    screenshots(page, "09-link-not-valid")

    first, second = company("Northwind US", "US"), company("Northwind Canada", "CA")
    page.goto(signed(stack, premium, "/qbo/connect"))
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Connection cancelled")).to_be_visible()
    screenshots(page, "10-cancelled-at-intuit")

    page.get_by_role("link", name="Back to the settings").click()
    page.get_by_role("link", name="Connect to QuickBooks Online").click()
    page.select_option("select[name=realmId]", first)
    page.get_by_role("button", name="Authorize").click()
    expect(page.locator("dd", has_text="Northwind US")).to_be_visible()

    page.goto(signed(stack, premium, "/qbo/connect"))
    page.select_option("select[name=realmId]", second)
    page.get_by_role("button", name="Authorize").click()
    expect(
        page.get_by_role("heading", name="Switch to a different QuickBooks Online company?")
    ).to_be_visible()
    screenshots(page, "11-confirm-switch")
    page.get_by_role("button", name="Keep Northwind US").click()
    expect(page.get_by_text("Nothing changed: you are still connected to the same company.")).to_be_visible()

    page.goto(signed(stack, premium, "/qbo/connect"))
    page.select_option("select[name=realmId]", second)
    page.get_by_role("button", name="Authorize").click()
    page.get_by_role("button", name="Switch company").click()
    expect(page.locator("dd", has_text="Northwind Canada")).to_be_visible()
    expect(page.locator("#tax_code_id option", has_text="Exempt (0%)")).to_have_count(1)
    page.select_option("#income_account_id", "79")
    page.select_option("#tax_code_id", "3")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    screenshots(page, "12-settings-after-switch-ca")


def test_the_tax_table_maps_the_onedesk_taxes_a_copy_met(
    local_stack: Stack, page: Page, screenshots: Callable[[Page, str], Path]
) -> None:
    """A Canadian company: a copy with GST + PST goes to GST/PST BC automatically and its taxes appear in
    the settings page's tax table, where the admin picks other codes (here: untaxed invoices on a chosen
    0 % code) and they stay chosen."""
    stack = local_stack
    onedesk = SandboxControl(stack.onedesk)
    account = onedesk.tenant(name="Maple Services", plan="Premium", customer="Harbour & Co")
    tenant = Tenant(
        tenant_id=account.account_id,
        name="Maple Services",
        onedesk_api_key=SecretStr(account.api_key),
        shared_secret=SecretStr(f"shared-{uuid.uuid4().hex}"),
    )
    stack.tenant_store().save_tenant(tenant)
    reply = requests.post(
        f"{stack.qbo.base_url}/_sandbox/companies",
        json={"name": "Maple CA", "country": "CA"},
        timeout=TIMEOUT,
    )
    realm = reply.json()["realmId"]

    page.goto(signed(stack, tenant, "/qbo/connect"))
    page.select_option("select[name=realmId]", realm)
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("heading", name="Taxes")).to_be_visible()
    expect(page.get_by_text("No invoice with tax has been copied yet.")).to_have_count(0)  # the "No tax" row
    page.select_option("#income_account_id", "79")
    page.select_option("#tax_code_id", "3")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    lines = [
        {"kind": "time", "description": "Audit", "serviceType": "Support", "hours": 2, "rate": 100},
        {"kind": "tax", "description": "GST", "taxRatePercent": 5},
        {"kind": "tax", "description": "PST <BC>", "taxRatePercent": 7},
    ]
    invoice = onedesk.invoice(account, lines, number="INV-2001", currency="CAD")
    onedesk.move(invoice["id"], "Open")
    request_copy(stack, tenant, invoice["id"])
    copied = wait_for(
        lambda: qbo(stack, "GET", f"/_sandbox/entities/{realm}/Invoice"), what="the invoice in QBO"
    )
    qbo_invoice = (copied["Invoice"] if isinstance(copied, dict) else copied)[0]
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal("224.00")  # 200.00 + GST 10.00 + PST 14.00

    page.reload()
    row = page.locator("tr", has_text="GST 5% + PST <BC> 7%")  # escaped on the page, shown as typed
    expect(row).to_contain_text("INV-2001")
    expect(row.locator("select")).to_have_value("")
    expect(row.locator("option:checked")).to_have_text("Automatic: GST/PST BC (12%)")
    untaxed = page.get_by_label("QuickBooks Online tax code for No tax (invoices without tax lines)")
    expect(untaxed.locator("option:checked")).to_have_text("Automatic: Exempt (0%)")
    screenshots(page, "13-tax-table")

    untaxed.select_option(label="Exempt (0%)")
    row.locator("select").select_option(label="HST ON (13%)")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(row.locator("option:checked")).to_have_text("HST ON (13%)")
    expect(untaxed.locator("option:checked")).to_have_text("Exempt (0%)")
    settings = stack.tenant_store().get_settings(tenant.tenant_id, realm)
    assert settings is not None
    assert {(o.key, o.code_id) for o in settings.tax.overrides} == {("", "5"), ("gst@5% + pst <bc>@7%", "4")}
    screenshots(page, "14-tax-table-saved")


def test_an_invoice_edited_in_qbo_waits_for_the_admins_choice(
    local_stack: Stack, page: Page, screenshots: Callable[[Page, str], Path]
) -> None:
    stack = local_stack
    sandbox = SandboxControl(stack.onedesk)
    account = sandbox.tenant(name="Contoso Services", plan="Premium", customer="Fabrikam")
    onedesk = OneDeskControl(stack.onedesk.control_url, account.account_id, account.api_key)
    tenant = Tenant(
        tenant_id=account.account_id,
        name="Contoso Services",
        onedesk_api_key=SecretStr(account.api_key),
        shared_secret=SecretStr(f"shared-{uuid.uuid4().hex}"),
    )
    stack.tenant_store().save_tenant(tenant)
    books = QboControl.new_company(stack.qbo.base_url, "Contoso Books", "US")
    page.goto(signed(stack, tenant, "/qbo/connect"))
    page.select_option("select[name=realmId]", books.realm_id)
    page.get_by_role("button", name="Authorize").click()
    page.select_option("#income_account_id", "79")
    page.select_option("#tax_code_id", "NON")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    invoice = sandbox.invoice(account, number="INV-2001")
    onedesk.move(invoice["id"], "Open")
    request_copy(stack, tenant, invoice["id"])
    (copied,) = wait_for(lambda: books.entities("Invoice"), what="the invoice in QBO")
    # A bookkeeper changes the amount in QBO; then the invoice is edited in OneDesk and copied again.
    line = next(x for x in copied["Line"] if x["DetailType"] == "SalesItemLineDetail")
    line["SalesItemLineDetail"]["Qty"] = 1
    line["Amount"] = line["SalesItemLineDetail"]["UnitPrice"]
    books.data(
        "POST",
        "invoice",
        {"Id": copied["Id"], "SyncToken": copied["SyncToken"], "sparse": True, "Line": [line]},
    )
    onedesk.move(invoice["id"], "Draft")
    onedesk.edit(invoice["id"], lines=[{**TIME_LINE, "hours": 3}])
    onedesk.move(invoice["id"], "Open")
    request_copy(stack, tenant, invoice["id"])
    wait_for(
        lambda: (
            "changed there since the last copy"
            in (onedesk.record(invoice["id"])["syncMessage"] or {}).get("text", "")
        ),
        what="the conflict shown in OneDesk",
    )

    page.goto(signed(stack, tenant, "/qbo/settings"))
    section = page.locator(
        "section", has=page.get_by_role("heading", name="Invoices changed in QuickBooks Online")
    )
    expect(section).to_contain_text("INV-2001")
    expect(section).to_contain_text("lines")
    screenshots(page, "15-conflict-waiting")
    section.get_by_role("button", name="Keep QuickBooks Online's version").click()
    expect(page.get_by_text("QuickBooks Online's version was kept")).to_be_visible()
    expect(page.get_by_role("heading", name="Invoices changed in QuickBooks Online")).to_have_count(0)
    screenshots(page, "16-conflict-kept")
    assert books.entity("Invoice", copied["Id"])["Line"][0]["Amount"] == line["Amount"]  # QBO's version stays
