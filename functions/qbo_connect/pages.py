"""The admin's HTML pages: server-rendered, one embedded stylesheet, no JavaScript.

Every value that reaches the HTML goes through ``esc`` (html.escape, quotes included). The only
secret-derived value on a page is the session's CSRF token, which is useless without the HttpOnly cookie.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Literal
from urllib.parse import urlencode

from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.onedesk import Plan
from qbo_sync.domain.taxes import TaxMode, format_percent
from qbo_sync.domain.tenant import TenantSettings, TriggerPolicy
from qbo_sync.ports.store import InvoiceConflict
from qbo_sync.usecases.connect import Choice, CompanyChoices, SettingsView, TaxRow, WaitingSend

TITLE = "QuickBooks Online"
QBO_INVOICE_URLS = {
    "sandbox": "https://app.sandbox.qbo.intuit.com/app/invoice",
    "production": "https://app.qbo.intuit.com/app/invoice",
}

STYLESHEET = """
:root{color-scheme:light;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2933;background:#f3f5f8}
body{margin:0}
header{background:#12467b;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:1.2rem;font-weight:600}
header p{margin:2px 0 0;opacity:.85;font-size:.9rem}
main{max-width:920px;margin:24px auto;padding:0 16px}
section{background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:16px 20px;margin-bottom:16px}
h2{font-size:1.05rem;margin:0 0 12px}
p{margin:0 0 10px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 20px;margin:0 0 12px}
dt{color:#52606d}
dd{margin:0}
label{display:block;margin:12px 0 4px;font-weight:600}
label.check{display:flex;gap:10px;align-items:flex-start;font-weight:400}
label.check input{margin-top:4px}
select{min-width:340px;max-width:100%;padding:6px 8px;font-size:1rem}
.hint{color:#52606d;font-size:.9rem;margin:4px 0 0}
.actions{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin-top:14px}
.actions form{margin:0}
button,a.button{display:inline-block;font:inherit;background:#12467b;color:#fff;border:1px solid #12467b;
border-radius:6px;padding:7px 16px;cursor:pointer;text-decoration:none}
button.secondary,a.button.secondary{background:#fff;color:#12467b}
button.danger{background:#fff;color:#b3261e;border-color:#b3261e}
.notice{background:#fff;border:1px solid #d9e2ec;border-left:5px solid #2e7d32;border-radius:6px;
padding:10px 14px;margin-bottom:16px}
.notice.warn{border-left-color:#b26a00}
.notice.error{border-left-color:#b3261e}
.badge{display:inline-block;border-radius:10px;padding:1px 10px;font-size:.85rem;font-weight:600}
.badge.ok{background:#e3f2e5;color:#1b5e20}
.badge.warn{background:#fff1d6;color:#7a4a00}
.badge.bad{background:#fde2e1;color:#8c1d18}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{color:#52606d;font-weight:600}
.muted{color:#52606d}
.nowrap{white-space:nowrap}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
# No script at all; the one stylesheet is allowed by its hash; forms post only to us.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def esc(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Notice:
    kind: Literal["ok", "warn", "error"]
    text: str


def _waiting(resumed: int) -> str:
    if resumed == 0:
        return ""
    return f" {resumed} waiting invoice command{'s' if resumed != 1 else ''} queued again."


def notice_for(code: str | None, resumed: int) -> Notice | None:
    """The banner after a redirect (``?notice=``): fixed texts only, nothing echoed from the URL."""
    match code:
        case "connected":
            return Notice("ok", "Connected to QuickBooks Online." + _waiting(resumed))
        case "connected-unread":
            return Notice(
                "warn",
                "Connected, but the company's details could not be read from QuickBooks Online. "
                "Connect again to retry (see Recent activity for the reason).",
            )
        case "saved":
            return Notice("ok", "Settings saved." + _waiting(resumed))
        case "saved-no-exempt":
            return Notice(
                "warn",
                "Settings saved, but this company has no active tax code with a 0% rate, so invoices "
                'without tax cannot be copied until you add one (for example "Exempt") in QuickBooks Online '
                "and save again." + _waiting(resumed),
            )
        case "kept":
            return Notice("ok", "Nothing changed: you are still connected to the same company.")
        case "conflict-overwrite":
            return Notice("ok", "OneDesk's version is being copied over QuickBooks Online's.")
        case "conflict-keep":
            return Notice("ok", "QuickBooks Online's version was kept; OneDesk shows that it was.")
        case "send-send":
            return Notice("ok", "QuickBooks Online will email the invoice in a moment.")
        case "send-drop":
            return Notice("ok", "The invoice will not be emailed; OneDesk shows that it was not sent.")
    return None


def _page(title: str, body: str, account: str | None = None) -> str:
    subtitle = f"<p>OneDesk account: {esc(account)}</p>" if account else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} · {TITLE}</title><style>{STYLESHEET}</style></head>"
        f"<body><header><h1>{TITLE} integration</h1>{subtitle}</header>"
        f"<main>{body}</main></body></html>"
    )


def _notice(notice: Notice | None) -> str:
    return f'<div class="notice {notice.kind}" role="status">{esc(notice.text)}</div>' if notice else ""


def _csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def reconnect_url(csrf: str) -> str:
    return "/qbo/connect?" + urlencode({"csrf": csrf})


def _when(moment: datetime | None, missing: str = "Not yet") -> str:
    return (
        esc(moment.strftime("%Y-%m-%d %H:%M UTC")) if moment else f'<span class="muted">{esc(missing)}</span>'
    )


def error(title: str, message: str, *, back: bool = False) -> str:
    link = '<p><a href="/qbo/settings">Back to the settings</a></p>' if back else ""
    return _page(title, f"<section><h2>{esc(title)}</h2><p>{esc(message)}</p>{link}</section>")


def not_eligible(plan: Plan, account: str) -> str:
    body = (
        "<section><h2>QuickBooks Online is not available on your plan</h2>"
        f"<p>This OneDesk account is on the <strong>{esc(plan.value)}</strong> plan. The QuickBooks Online "
        f"integration is part of the <strong>{esc(Plan.PREMIUM.value)}</strong> plan and higher.</p>"
        "<p>Upgrade the plan in OneDesk (Administration &gt; Billing), then click "
        "“Connect to QuickBooks Online” again. Nothing was connected.</p></section>"
    )
    return _page("Not available on your plan", body, account)


def cancelled(connection: Connection | None, account: str) -> str:
    still = (
        f"You are still connected to <strong>{esc(connection.company_name)}</strong>."
        if connection is not None and connection.status is ConnectionStatus.CONNECTED
        else "QuickBooks Online is not connected."
    )
    body = (
        "<section><h2>Connection cancelled</h2>"
        f"<p>You cancelled at Intuit, so nothing changed. {still}</p>"
        '<p><a href="/qbo/settings">Back to the settings</a></p></section>'
    )
    return _page("Connection cancelled", body, account)


def confirm_switch(current: Connection, new_realm_id: str, csrf: str, account: str) -> str:
    body = (
        "<section><h2>Switch to a different QuickBooks Online company?</h2>"
        f"<p>This OneDesk account was connected to <strong>{esc(current.company_name)}</strong> "
        f"(company ID {esc(current.realm_id)}). You just authorized a <strong>different company</strong> "
        f"(company ID {esc(new_realm_id)}).</p>"
        "<p>If you switch, new copies go to the new company. Customers, products and invoices already "
        "copied to the current company are <strong>not</strong> reused: invoices copied again are "
        "created anew in the new company, and you choose its income account and tax code again.</p>"
        '<form method="post" action="/qbo/confirm-switch" class="actions">'
        f"{_csrf_field(csrf)}"
        '<button type="submit" name="decision" value="confirm">Switch company</button>'
        '<button type="submit" name="decision" value="cancel" class="secondary">'
        f"Keep {esc(current.company_name)}</button></form>"
        '<p class="hint">This choice expires after 10 minutes.</p></section>'
    )
    return _page("Confirm the company switch", body, account)


def disconnected(connection: Connection | None, csrf: str, account: str) -> str:
    if connection is None:
        what = "<p>QuickBooks Online was not connected; there was nothing to disconnect.</p>"
    else:
        what = (
            f"<p>Disconnected from <strong>{esc(connection.company_name)}</strong>. The integration's access "
            "was revoked at Intuit and its tokens were deleted.</p>"
            "<p>The links between OneDesk and this company's customers, products and invoices are kept: "
            "if you reconnect to the same company, invoices copied before are updated, not duplicated.</p>"
            "<p>Until you reconnect, invoices to copy or send are kept waiting; they run as soon as you "
            "reconnect.</p>"
        )
    body = (
        f"<section><h2>QuickBooks Online disconnected</h2>{what}"
        f'<div class="actions"><a class="button" href="{esc(reconnect_url(csrf))}">Reconnect</a>'
        '<a href="/qbo/settings">Back to the settings</a></div></section>'
    )
    return _page("Disconnected", body, account)


# ---------------------------------------------------------------- the settings page


def settings(view: SettingsView, csrf: str, environment: str, notice: Notice | None = None) -> str:
    body = (
        _notice(notice)
        + _connection_section(view, csrf)
        + _conflicts_section(view.conflicts, csrf)
        + _sends_waiting_section(view.sends_waiting, csrf)
        + '<form method="post" action="/qbo/settings">'
        + _csrf_field(csrf)
        + _defaults_section(view)
        + _taxes_section(view)
        + _automation_section(view.tenant.trigger_policy)
        + "</form>"
        + _disconnect_section(view.connection, csrf)
        + _activity_section(view.activity, QBO_INVOICE_URLS.get(environment, QBO_INVOICE_URLS["sandbox"]))
    )
    return _page("Settings", body, view.tenant.name)


def _status_badge(connection: Connection | None) -> str:
    if connection is None:
        return '<span class="badge bad">Not connected</span>'
    if connection.status is ConnectionStatus.CONNECTED:
        return '<span class="badge ok">Connected</span>'
    if connection.status is ConnectionStatus.NEEDS_RECONNECT:
        reason = f" — {esc(connection.status_reason)}" if connection.status_reason else ""
        return f'<span class="badge bad">Needs reconnecting</span>{reason}'
    return '<span class="badge warn">Disconnected</span>'


def _connection_section(view: SettingsView, csrf: str) -> str:
    connection = view.connection
    waiting = (
        f"{view.parked} — waiting because {esc(view.blocked_reason)}"
        if view.parked and view.blocked_reason
        else str(view.parked)
    )
    rows = [("Status", _status_badge(connection))]
    kept = ""
    if connection is not None:
        currency = f" · home currency {esc(connection.home_currency)}" if connection.home_currency else ""
        sales_tax = {True: "on", False: "off", None: "unknown"}[connection.using_sales_tax]
        disconnected = connection.status is ConnectionStatus.DISCONNECTED
        rows += [
            (
                "Last company" if disconnected else "Company",
                f'{esc(connection.company_name)} <span class="muted">(ID {esc(connection.realm_id)})</span>',
            ),
            ("Country", f"{esc(connection.country or 'unknown')}{currency} · sales tax {sales_tax}"),
        ]
        if not disconnected:
            rows.append(("Connected since", _when(connection.connected_at)))
        rows.append(("Last successful sync", _when(connection.last_sync_at)))
        if disconnected:
            kept = (
                f'<p class="hint">The links to {esc(connection.company_name)}\'s customers, products and '
                "invoices are kept: reconnect to the same company and invoices copied before are updated, "
                "not duplicated.</p>"
            )
    rows.append(("Commands waiting", waiting))
    details = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    connect = ""
    if connection is None or connection.status is not ConnectionStatus.CONNECTED:
        label = "Connect to QuickBooks Online" if connection is None else "Reconnect"
        connect = (
            f'<div class="actions"><a class="button" href="{esc(reconnect_url(csrf))}">{label}</a></div>'
        )
    return (
        f'<section aria-labelledby="connection"><h2 id="connection">Connection</h2><dl>{details}</dl>{kept}'
        f"{connect}</section>"
    )


def _disconnect_section(connection: Connection | None, csrf: str) -> str:
    """Its own section below the settings (P4), away from Save: one click revokes the access."""
    if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
        return ""
    return (
        '<section aria-labelledby="disconnect"><h2 id="disconnect">Disconnect</h2>'
        f"<p>Revokes this integration's access to {esc(connection.company_name)} at Intuit. The links to its "
        "customers, products and invoices are kept for a reconnect to the same company; invoices to copy or "
        "send wait until you reconnect.</p>"
        f'<form method="post" action="/qbo/disconnect">{_csrf_field(csrf)}'
        '<button type="submit" class="danger">Disconnect from QuickBooks Online</button></form></section>'
    )


def _options(choices: list[Choice], selected: str | None, placeholder: str) -> str:
    known = any(choice.id == selected for choice in choices)
    first = f'<option value="" disabled{"" if known else " selected"}>{esc(placeholder)}</option>'
    return first + "".join(
        f'<option value="{esc(c.id)}"{" selected" if c.id == selected else ""}>{esc(_label(c))}</option>'
        for c in choices
    )


def _label(choice: Choice) -> str:
    return (
        choice.name
        if choice.rate_percent is None
        else f"{choice.name} ({format_percent(choice.rate_percent)})"
    )


def _defaults_section(view: SettingsView) -> str:
    head = '<section aria-labelledby="defaults"><h2 id="defaults">Defaults</h2>'
    connection, current = view.connection, view.settings
    if connection is None:
        return (
            head + "<p>Connect to QuickBooks Online to choose the income account and tax code.</p></section>"
        )
    if connection.status is ConnectionStatus.DISCONNECTED:
        return head + _current_defaults(current) + "<p>Reconnect to change them.</p></section>"
    if view.choices is None:
        problem = (
            f'<div class="notice error">{esc(view.choices_problem)}</div>' if view.choices_problem else ""
        )
        return head + problem + _current_defaults(current) + "</section>"
    call = ""
    if current is None or not current.complete:
        call = (
            '<div class="notice warn">Choose the default income account and tax code, then save: '
            "invoices wait until you do.</div>"
        )
    return head + call + _default_fields(view.choices, current) + "</section>"


def _current_defaults(current: TenantSettings | None) -> str:
    if current is None or not current.complete:
        return "<p>No defaults chosen yet.</p>"
    return (
        f"<dl><dt>Default income account</dt><dd>{esc(current.default_income_account_name)}</dd>"
        f"<dt>Default tax code</dt><dd>{esc(_label(_saved_tax(current)))}</dd></dl>"
    )


def _saved_tax(current: TenantSettings) -> Choice:
    tax = current.tax
    return Choice(str(tax.tax_code_id), tax.tax_code_name or str(tax.tax_code_id), tax.rate_percent)


def _default_fields(choices: CompanyChoices, current: TenantSettings | None) -> str:
    account = current.default_income_account_id if current else None
    tax = current.tax.tax_code_id if current else None
    if choices.tax_mode is TaxMode.US_AUTOMATED:
        tax_hint = (
            "This company uses Automated Sales Tax: lines of taxed invoices are marked TAX and QuickBooks "
            "Online calculates the tax from the addresses. When its total differs from OneDesk's, the "
            "OneDesk invoice says so."
        )
    elif choices.tax_mode is TaxMode.US:
        tax_hint = (
            "Each invoice's taxes go to the tax code with the same rates (see Taxes below); when several "
            "codes have them, this one is used. Choose “Not taxable” to prefer none."
        )
    elif choices.exempt_tax_code is not None:
        tax_hint = (
            "Each invoice's taxes go to the tax code with the same rates (see Taxes below); when several "
            f"codes have them, this one is used. Lines of invoices without tax carry "
            f"“{esc(choices.exempt_tax_code.name)}” unless you choose another below."
        )
    else:
        tax_hint = (
            "Each invoice's taxes go to the tax code with the same rates (see Taxes below). This company has "
            "no tax code with a 0% rate, so invoices without tax cannot be copied until you add one in "
            "QuickBooks Online."
        )
    return (
        '<label for="income_account_id">Default income account</label>'
        '<select id="income_account_id" name="income_account_id" required>'
        f"{_options(choices.income_accounts, account, 'Choose an income account')}</select>"
        '<p class="hint">Used for a product/service that has to be created in QuickBooks Online because '
        "no product/service there has the OneDesk service type's name.</p>"
        '<label for="tax_code_id">Default tax code</label>'
        '<select id="tax_code_id" name="tax_code_id" required>'
        f"{_options(choices.tax_codes, tax, 'Choose a tax code')}</select>"
        f'<p class="hint">{tax_hint}</p>'
    )


def _taxes_section(view: SettingsView) -> str:
    """The tax table: each combination of OneDesk taxes seen on an invoice and the QBO tax code it goes
    to, automatic (matched by rate) unless the admin chooses one."""
    choices = view.choices
    if choices is None or choices.tax_mode is TaxMode.US_AUTOMATED:
        return ""
    head = (
        '<section aria-labelledby="taxes"><h2 id="taxes">Taxes</h2><p class="hint">OneDesk taxes go to the '
        "QuickBooks Online tax code with the same rates, automatically; choose another code for a tax here. "
        "A combination appears once an invoice with it has been copied (or refused).</p>"
    )
    if not view.tax_rows:
        return head + '<p class="muted">No invoice with tax has been copied yet.</p></section>'
    codes = [Choice(c.code_id, c.name, c.percent) for c in choices.catalog_codes]
    rows = "".join(_tax_row(index, row, codes) for index, row in enumerate(view.tax_rows))
    return (
        head
        + "<table><thead><tr><th>OneDesk taxes</th><th>First seen on</th><th>QuickBooks Online tax code</th>"
        "</tr></thead><tbody>" + rows + "</tbody></table></section>"
    )


def _tax_row(index: int, row: TaxRow, codes: list[Choice]) -> str:
    automatic = (
        f"Automatic: {_label(row.automatic)}" if row.automatic else "Automatic: no code has these rates"
    )
    options = f'<option value=""{"" if row.chosen else " selected"}>{esc(automatic)}</option>' + "".join(
        f'<option value="{esc(c.id)}"{" selected" if c.id == row.chosen else ""}>{esc(_label(c))}</option>'
        for c in codes
    )
    first = esc(row.first_invoice) if row.first_invoice else '<span class="muted">—</span>'
    return (
        f"<tr><td>{esc(row.label)}</td><td>{first}</td><td>"
        f'<input type="hidden" name="tax_key_{index}" value="{esc(row.key)}">'
        f'<select name="tax_code_{index}" aria-label="{esc("QuickBooks Online tax code for " + row.label)}">'
        f"{options}</select></td></tr>"
    )


def _automation_section(policy: TriggerPolicy) -> str:
    def box(name: str, checked: bool, text: str) -> str:
        mark = " checked" if checked else ""
        return f'<label class="check"><input type="checkbox" name="{name}"{mark}><span>{text}</span></label>'

    return (
        '<section aria-labelledby="automation"><h2 id="automation">Automation</h2>'
        + box(
            "copy_when_opened", policy.copy_when_opened, "Copy an invoice automatically when it becomes Open"
        )
        + box(
            "send_when_marked_sent",
            policy.send_when_marked_sent,
            "Send an invoice through QuickBooks Online when it is marked Sent (needs a billing contact "
            "email on the customer organization)",
        )
        + '<div class="actions"><button type="submit">Save settings</button></div></section>'
    )


def _decision_form(action: str, csrf: str, invoice_id: str, choices: list[tuple[str, str, str]]) -> str:
    """One small form per row: the session's CSRF token, the invoice, and a button per choice."""
    buttons = "".join(
        f'<button type="submit" name="decision" value="{esc(value)}"{css}>{esc(label)}</button>'
        for value, label, css in choices
    )
    return (
        f'<form method="post" action="{esc(action)}" class="actions">{_csrf_field(csrf)}'
        f'<input type="hidden" name="invoice_id" value="{esc(invoice_id)}">{buttons}</form>'
    )


def _conflicts_section(conflicts: list[InvoiceConflict], csrf: str) -> str:
    """Invoices a bookkeeper edited in QBO while OneDesk had another version: nothing is overwritten
    until the admin chooses here."""
    if not conflicts:
        return ""
    rows = "".join(
        f'<tr><td class="nowrap">{esc(c.invoice_number)}</td><td class="nowrap">{_when(c.detected_at)}</td>'
        f"<td>{esc(c.differences)}</td>"
        f'<td class="nowrap">{esc("?" if c.qbo_total is None else c.qbo_total)} / {esc(c.onedesk_total)}</td>'
        "<td>"
        + _decision_form(
            "/qbo/conflicts",
            csrf,
            c.invoice_id,
            [
                ("overwrite", "Overwrite from OneDesk", ""),
                ("keep", "Keep QuickBooks Online's version", ' class="secondary"'),
            ],
        )
        + "</td></tr>"
        for c in conflicts
    )
    return (
        '<section aria-labelledby="conflicts"><h2 id="conflicts">Invoices changed in QuickBooks Online</h2>'
        "<p>These invoices were edited in QuickBooks Online since they were last copied, and OneDesk has "
        "another version. Nothing is overwritten until you choose. <strong>Overwrite</strong> copies the "
        "invoice as OneDesk shows it now; <strong>Keep</strong> leaves QuickBooks Online's version as it "
        "is (a later change of the invoice in OneDesk is copied over it).</p>"
        "<table><thead><tr><th>Invoice</th><th>Found</th><th>What differs</th>"
        "<th>Total QuickBooks / OneDesk</th><th></th></tr></thead><tbody>"
        + rows
        + "</tbody></table></section>"
    )


def _sends_waiting_section(sends: list[WaitingSend], csrf: str) -> str:
    """Sends that waited (QBO not connected): copied already, emailed only if the admin confirms."""
    if not sends:
        return ""
    rows = []
    for send in sends:
        number = (
            esc(send.invoice_number)
            if send.invoice_number
            else f'<span class="muted">id {esc(send.invoice_id)}</span>'
        )
        form = _decision_form(
            "/qbo/parked-sends",
            csrf,
            send.invoice_id,
            [("send", "Send now", ""), ("drop", "Don't send", ' class="secondary"')],
        )
        rows.append(
            f'<tr><td class="nowrap">{number}</td><td class="nowrap">{_when(send.requested_at)}</td>'
            f"<td>{form}</td></tr>"
        )
    return (
        '<section aria-labelledby="sends"><h2 id="sends">Sends waiting for your confirmation</h2>'
        "<p>These invoices were to be emailed by QuickBooks Online while it was not connected. They are "
        "copied as soon as QuickBooks Online is connected, but emailed only if you confirm, so a customer "
        "never gets an old invoice by surprise.</p>"
        "<table><thead><tr><th>Invoice</th><th>Requested</th><th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


_OUTCOME_BADGES = {
    Outcome.DONE: "ok",
    Outcome.UNCHANGED: "ok",
    Outcome.PARKED: "warn",
    Outcome.WARNING: "warn",
    Outcome.CONFLICT: "warn",
    Outcome.REFUSED: "bad",
    Outcome.FAILED: "bad",
}


def _activity_section(records: list[AuditRecord], invoice_url: str) -> str:
    head = '<section aria-labelledby="activity"><h2 id="activity">Recent activity</h2>'
    if not records:
        return head + '<p class="muted">Nothing yet.</p></section>'
    rows = []
    for record in records:
        link = (
            f'<a href="{esc(invoice_url + "?" + urlencode({"txnId": record.qbo_invoice_id}))}" '
            f'target="_blank" rel="noopener noreferrer">Open in QuickBooks</a>'
            if record.qbo_invoice_id
            else ""
        )
        badge = f'<span class="badge {_OUTCOME_BADGES[record.outcome]}">{esc(record.outcome.value)}</span>'
        invoice = esc(record.invoice_number or "")
        if not invoice and record.invoice_id:  # requested from OneDesk before its number was read
            invoice = f'<span class="muted">id {esc(record.invoice_id)}</span>'
        action = record.action.replace("-", " ").capitalize()
        rows.append(
            f'<tr><td class="nowrap">{_when(record.at)}</td><td class="nowrap">{invoice}</td>'
            f'<td class="nowrap">{esc(action)}</td><td>{badge}</td><td>{esc(record.reason or "")}</td>'
            f'<td class="nowrap">{link}</td></tr>'
        )
    return (
        head
        + "<table><thead><tr><th>When</th><th>Invoice</th><th>Action</th><th>Outcome</th><th>Details</th>"
        "<th>QuickBooks</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )
