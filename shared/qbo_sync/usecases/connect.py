"""The admin's pages (P1-P4): connect a tenant to a QBO company through Intuit OAuth, choose the defaults
a copy needs, disconnect; and queue again the work that was parked while something was missing.

Who is asking: OneDesk opens the pages with a link signed with the tenant's shared secret; the link
opens a session (cookie) and every form carries a CSRF token derived from it (domain/signing.py).
The OAuth ``state`` is random, single use, expires after 10 minutes and must come back in the browser
session of the tenant it was issued for (so nobody can get their link's state authorised by someone
else's QBO login). A different QBO company than the tenant's current one is never switched to
silently: its tokens wait, sealed, until the admin confirms; mappings are keyed by tenant and realm,
so the old company's ids are never reused.

Every ``Refused`` carries a message for the admin; none contains a token or a secret.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, SecretStr

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.domain.invoice_mapping import CompanyProfile
from qbo_sync.domain.onedesk import Plan
from qbo_sync.domain.signing import (
    SESSION_LIFETIME,
    csrf_token,
    session_tenant,
    session_value,
    verify_connect_link,
    verify_csrf,
    verify_session,
)
from qbo_sync.domain.taxes import (
    NO_TAX,
    US_NOT_TAXABLE,
    US_TAXABLE,
    CatalogCode,
    TaxCatalog,
    TaxCombination,
    TaxMode,
    automatic_code,
)
from qbo_sync.domain.tenant import TaxOverride, TaxSettings, Tenant, TenantSettings, TriggerPolicy
from qbo_sync.observability import logger
from qbo_sync.ports.connect import OAuthStates, PendingConnection, PendingConnections
from qbo_sync.ports.onedesk import OneDeskError, OneDeskPort
from qbo_sync.ports.qbo import QboError, QboPort, eq
from qbo_sync.ports.queues import CommandQueue
from qbo_sync.ports.store import AuditLog, InvoiceConflict, MappingStore, ParkedWork, TenantStore
from qbo_sync.ports.tokens import ConnectionStore, NeedsReconnect, OAuthError, OAuthPort, OAuthUnavailable
from qbo_sync.usecases.invoice_commands import blocked_reason
from qbo_sync.usecases.invoice_taxes import read_tax_codes

STATE_LIFETIME = timedelta(minutes=10)
PENDING_LIFETIME = timedelta(minutes=10)
ACTIVITY_SIZE = 20
# secrets.token_urlsafe(32): anything else is not ours and never reaches the table.
_STATE_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_REALM_SHAPE = re.compile(r"[0-9]{1,32}")
_TENANT_ID_MAX = 128
NOT_TAXABLE_NAME = "Not taxable (NON)"
AUTOMATED_SALES_TAX_NAME = "Automated Sales Tax (QuickBooks Online calculates the tax)"
NO_TAX_LABEL = "No tax (invoices without tax lines)"
TAX_ROWS_MAX = 50  # the most recent combinations of OneDesk taxes shown in the tax table
START_AGAIN = "Open the QuickBooks Online settings again from OneDesk (Administration > Financials)."


@dataclass(frozen=True)
class ConnectPorts:
    tenants: TenantStore
    connections: ConnectionStore
    parked: ParkedWork
    mappings: MappingStore
    audit: AuditLog
    commands: CommandQueue
    states: OAuthStates
    pending: PendingConnections
    oauth: Callable[[], OAuthPort]  # built on first use: it reads the Intuit app's secret
    onedesk_for: Callable[[Tenant], OneDeskPort]
    qbo_for: Callable[[str, str], QboPort]
    clock: Callable[[], datetime]


class Refused(Exception):
    """The request cannot be honoured; ``title`` and ``message`` are written for the admin."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message


class NotEligible(Refused):
    """P1: the OneDesk plan does not include the integration."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(403, "Not available on your plan", f"plan {plan.value}")
        self.plan = plan


# ---------------------------------------------------------------- who is asking


def tenant_from_link(
    tenants: TenantStore, tenant_id: str | None, expires: str | None, signature: str | None, now: datetime
) -> Tenant:
    """The tenant of a signed link; unknown tenant, bad or expired signature are all the same 403."""
    tenant = _known_tenant(tenants, tenant_id)
    if tenant is None or not verify_connect_link(
        tenant.shared_secret.get_secret_value(), tenant.tenant_id, expires, signature, now
    ):
        raise Refused(403, "This link is not valid", f"It has expired or was not made for you. {START_AGAIN}")
    return tenant


def open_session(tenant: Tenant, now: datetime) -> str:
    expires = int((now + SESSION_LIFETIME).timestamp())
    return session_value(tenant.shared_secret.get_secret_value(), tenant.tenant_id, expires)


def tenant_from_session(tenants: TenantStore, session: str | None, now: datetime) -> Tenant | None:
    if not session:
        return None
    tenant = _known_tenant(tenants, session_tenant(session))
    if tenant is None:
        return None
    return tenant if verify_session(tenant.shared_secret.get_secret_value(), session, now) else None


def _known_tenant(tenants: TenantStore, tenant_id: str | None) -> Tenant | None:
    # Unauthenticated input becomes a table key: an oversized one would fail as a 500, not a 403.
    if not tenant_id or len(tenant_id) > _TENANT_ID_MAX:
        return None
    return tenants.get_tenant(tenant_id)


def form_token(tenant: Tenant, session: str) -> str:
    """The CSRF token every form (and the reconnect link) of this session carries."""
    return csrf_token(tenant.shared_secret.get_secret_value(), session)


def check_csrf(tenant: Tenant, session: str, token: str | None) -> None:
    if not verify_csrf(tenant.shared_secret.get_secret_value(), session, token):
        raise Refused(403, "This form has expired", f"Nothing was changed. {START_AGAIN}")


# ---------------------------------------------------------------- connecting


def start_connect(tenant: Tenant, redirect_uri: str, ports: ConnectPorts) -> str:
    """Intuit's authorize URL with a fresh state bound to ``tenant``, if its plan allows it (P1)."""
    try:
        plan = ports.onedesk_for(tenant).get_account_profile().plan
    except OneDeskError as error:
        raise Refused(
            502, "OneDesk did not answer", f"Your OneDesk plan could not be read ({error})."
        ) from None
    if not plan.includes_invoicing_integrations:
        raise NotEligible(plan)
    state = secrets.token_urlsafe(32)
    ports.states.put(state, tenant.tenant_id, ports.clock() + STATE_LIFETIME)
    return ports.oauth().authorization_url(state, redirect_uri)


class CallbackQuery(BaseModel):
    """What Intuit appends to the redirect URI."""

    model_config = ConfigDict(frozen=True)

    state: str | None = None
    code: SecretStr | None = None
    realm_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Connected:
    connection: Connection
    resumed: int
    profile_read: bool = True  # False: connected, but the company's details could not be read


@dataclass(frozen=True)
class Cancelled:
    connection: Connection | None


@dataclass(frozen=True)
class ConfirmSwitch:
    current: Connection
    new_realm_id: str


def finish_connect(
    session: Tenant | None, query: CallbackQuery, redirect_uri: str, ports: ConnectPorts
) -> Connected | Cancelled | ConfirmSwitch:
    now = ports.clock()
    state = query.state if query.state and _STATE_SHAPE.fullmatch(query.state) else None
    tenant_id = ports.states.consume(state, now) if state else None
    if tenant_id is None:
        raise Refused(
            400,
            "This sign-in has expired",
            f"It took longer than 10 minutes, was already used, or did not start here. {START_AGAIN}",
        )
    if session is None or session.tenant_id != tenant_id:
        raise Refused(
            403, "Wrong browser session", f"This sign-in was started for another account. {START_AGAIN}"
        )
    if query.error == "access_denied":
        return Cancelled(ports.connections.get(tenant_id))
    if query.error:
        raise Refused(400, "QuickBooks Online did not connect", f"Intuit answered: {query.error}.")
    if query.code is None or not query.realm_id or not _REALM_SHAPE.fullmatch(query.realm_id):
        raise Refused(
            400, "Incomplete answer from Intuit", f"The company or the code is missing. {START_AGAIN}"
        )
    oauth = ports.oauth()
    try:
        tokens = oauth.exchange_code(query.code.get_secret_value(), redirect_uri)
    except OAuthError as error:
        status = 400 if error.status == 400 else 502
        raise Refused(status, "QuickBooks Online did not connect", f"{error}. {START_AGAIN}") from None
    try:
        _ensure_realm_free(tenant_id, query.realm_id, ports)
    except Refused:
        _revoke_quietly(oauth, tokens.refresh_token)
        raise
    current = ports.connections.get(tenant_id)
    if current is not None and current.realm_id != query.realm_id:
        pending = PendingConnection(tenant_id=tenant_id, realm_id=query.realm_id, tokens=tokens)
        ports.pending.put(pending, now + PENDING_LIFETIME)
        return ConfirmSwitch(current, query.realm_id)
    return _connect(session, query.realm_id, tokens, current, ports)


def confirm_switch(tenant: Tenant, ports: ConnectPorts) -> Connected:
    pending = ports.pending.take(tenant.tenant_id, ports.clock())
    if pending is None:
        raise Refused(400, "This confirmation has expired", f"Nothing was changed. {START_AGAIN}")
    oauth = ports.oauth()
    try:
        _ensure_realm_free(tenant.tenant_id, pending.realm_id, ports)
    except Refused:
        _revoke_quietly(oauth, pending.tokens.refresh_token)
        raise
    previous = ports.connections.get_tokens(tenant.tenant_id)
    if previous is not None:
        _revoke_quietly(oauth, previous[1].refresh_token)  # the old company's grant is not used any more
    current = previous[0] if previous else ports.connections.get(tenant.tenant_id)
    if current is not None:
        _audit(
            ports,
            tenant.tenant_id,
            "switch company",
            Outcome.DONE,
            f"from {current.company_name} ({current.realm_id}) to company {pending.realm_id}; "
            "the old company's mappings are not reused",
            realm_id=pending.realm_id,
        )
    return _connect(tenant, pending.realm_id, pending.tokens, current, ports)


def cancel_switch(tenant: Tenant, ports: ConnectPorts) -> Connection | None:
    """Drop the pending company's tokens (revoked at Intuit); the current connection stays as it is."""
    pending = ports.pending.take(tenant.tenant_id, ports.clock())
    if pending is not None:
        _revoke_quietly(ports.oauth(), pending.tokens.refresh_token)
        _audit(
            ports, tenant.tenant_id, "switch company", Outcome.UNCHANGED, "the admin kept the current company"
        )
    return ports.connections.get(tenant.tenant_id)


def _ensure_realm_free(tenant_id: str, realm_id: str, ports: ConnectPorts) -> None:
    """Webhooks are routed by realm to one tenant: a company connected elsewhere cannot connect here."""
    holder = ports.connections.tenant_for_realm(realm_id)
    if holder is None or holder == tenant_id:
        return
    other = ports.connections.get(holder)
    if other is not None and other.status is ConnectionStatus.CONNECTED:
        raise Refused(
            409,
            "Company already connected",
            "This QuickBooks Online company is connected to another OneDesk account. "
            "Disconnect it there first, or choose another company.",
        )


def _connect(
    tenant: Tenant, realm_id: str, tokens: TokenSet, previous: Connection | None, ports: ConnectPorts
) -> Connected:
    """Store the tokens, then read the company's profile through the product's QBO client."""
    now = ports.clock()
    if previous is not None and previous.realm_id == realm_id:
        base = previous.model_copy(
            update={"status": ConnectionStatus.CONNECTED, "status_reason": None, "connected_at": now}
        )
    else:
        base = Connection(
            tenant_id=tenant.tenant_id,
            realm_id=realm_id,
            status=ConnectionStatus.CONNECTED,
            connected_at=now,
            company_name=f"QuickBooks Online company {realm_id}",
        )
    saved = ports.connections.save_connection(base, tokens)
    try:
        client = ports.qbo_for(tenant.tenant_id, realm_id)
        info = client.company_info().entity
        preferences = client.preferences().entity
    except (QboError, NeedsReconnect) as error:
        problem = f"Connected, but the company's details could not be read from QuickBooks Online ({error})."
        _audit(ports, tenant.tenant_id, "connect", Outcome.WARNING, problem, realm_id=realm_id)
        return Connected(saved, 0, profile_read=False)
    profile = base.model_copy(update={"company_name": info.CompanyName, **_profile(info, preferences)})
    # Re-read the tokens: the client may have refreshed them while reading the profile.
    latest = ports.connections.get_tokens(tenant.tenant_id)
    connection = ports.connections.save_connection(profile, latest[1] if latest else tokens)
    _audit(
        ports,
        tenant.tenant_id,
        "connect",
        Outcome.DONE,
        f"connected to {connection.company_name} ({connection.country or 'country unknown'})",
        realm_id=realm_id,
    )
    return Connected(connection, resume_if_unblocked(tenant.tenant_id, ports))


def _profile(info: qbo.CompanyInfo, preferences: qbo.Preferences) -> dict[str, object]:
    home = (preferences.CurrencyPrefs or {}).get("HomeCurrency")
    tax_prefs = preferences.TaxPrefs or {}
    sales_tax = tax_prefs.get("UsingSalesTax")
    return {
        "country": info.Country,
        "home_currency": str(home["value"]) if isinstance(home, dict) and home.get("value") else None,
        "custom_txn_numbers": (preferences.SalesFormsPrefs or {}).get("CustomTxnNumbers") is True,
        "using_sales_tax": sales_tax if isinstance(sales_tax, bool) else None,
        "automated_sales_tax": tax_prefs.get("PartnerTaxEnabled") is True,
    }


def disconnect(tenant: Tenant, ports: ConnectPorts) -> Connection | None:
    """P4: revoke at Intuit, forget the tokens, keep the mappings (for a reconnect to the same company)."""
    loaded = ports.connections.get_tokens(tenant.tenant_id)
    if loaded is not None:
        try:
            ports.oauth().revoke(loaded[1].refresh_token)
        except OAuthUnavailable:
            raise Refused(
                503,
                "Intuit did not answer",
                "Nothing was changed: the connection is still active. Try again.",
            ) from None
        except OAuthError as error:  # Intuit no longer knows the grant: there is nothing left to revoke
            logger.warning("revoke refused; disconnecting anyway", extra={"error": str(error)})
    connection = ports.connections.get(tenant.tenant_id)
    if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
        return connection
    ports.connections.disconnect(tenant.tenant_id)
    _audit(
        ports,
        tenant.tenant_id,
        "disconnect",
        Outcome.DONE,
        f"disconnected from {connection.company_name}; mappings kept for a reconnect",
        realm_id=connection.realm_id,
    )
    return connection


def _revoke_quietly(oauth: OAuthPort, token: SecretStr) -> None:
    """Best effort for tokens we will never use: an unrevoked one simply expires unused."""
    try:
        oauth.revoke(token)
    except OAuthError as error:
        logger.warning("revoking unused QBO tokens failed", extra={"error": str(error)})


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Choice:
    id: str
    name: str
    rate_percent: Decimal | None = None


@dataclass(frozen=True)
class CompanyChoices:
    tax_mode: TaxMode
    income_accounts: list[Choice]
    tax_codes: list[Choice]  # the default (preferred) tax code's options
    exempt_tax_code: Choice | None  # non-US: what untaxed invoices' lines carry unless the admin chooses
    catalog_codes: tuple[CatalogCode, ...]  # the company's sales tax codes (the tax table's options)


def company_choices(client: QboPort, company: CompanyProfile) -> CompanyChoices:
    """Three queries: income accounts, tax rates, tax codes."""
    accounts = client.query(qbo.Account, [eq("AccountType", "Income")]).entity
    income = [Choice(a.Id, a.Name) for a in accounts if a.Id and a.Active is not False]
    codes = read_tax_codes(client)
    tax_codes, exempt = tax_choices(company, codes)
    return CompanyChoices(
        company.tax_mode, sorted(income, key=lambda c: c.name.casefold()), tax_codes, exempt, codes
    )


def tax_choices(company: CompanyProfile, codes: Sequence[CatalogCode]) -> tuple[list[Choice], Choice | None]:
    """The default tax code's options: the company's codes with their total rate; US companies also get
    NON (lines carry TAX/NON); with Automated Sales Tax QBO chooses, so that is the one option."""
    real = sorted((_code_choice(code) for code in codes), key=lambda c: (c.name.casefold(), c.id))
    match company.tax_mode:
        case TaxMode.US_AUTOMATED:
            return [Choice(US_TAXABLE, AUTOMATED_SALES_TAX_NAME)], None
        case TaxMode.US:
            return [Choice(US_NOT_TAXABLE, NOT_TAXABLE_NAME), *real], None
    exempt = automatic_code(NO_TAX, TaxCatalog(codes=tuple(codes)), None)
    return real, _code_choice(exempt) if exempt else None


def _code_choice(code: CatalogCode) -> Choice:
    return Choice(code.code_id, code.name, code.percent)


@dataclass(frozen=True)
class TaxRow:
    """One row of the settings page's tax table: a combination of OneDesk taxes and its QBO code."""

    key: str
    label: str
    first_invoice: str | None
    automatic: Choice | None  # what matching by rate picks today
    chosen: str | None  # the admin's override


def tax_rows(mode: TaxMode, catalog: TaxCatalog, settings: TenantSettings | None) -> list[TaxRow]:
    """No table with Automated Sales Tax (QBO decides); elsewhere the combinations copies met, most
    recent first, after a "No tax" row for companies whose lines always carry a code."""
    if mode is TaxMode.US_AUTOMATED:
        return []
    tax = settings.tax if settings else TaxSettings()
    seen = sorted(catalog.seen, key=lambda s: s.first_seen_at, reverse=True)[:TAX_ROWS_MAX]
    found: list[tuple[TaxCombination, str | None]] = [(s.combination, s.first_invoice_number) for s in seen]
    if mode is TaxMode.PER_LINE:
        found.insert(0, (NO_TAX, None))
    rows = []
    for combination, first_invoice in found:
        automatic = automatic_code(combination, catalog, tax.tax_code_id)
        rows.append(
            TaxRow(
                key=combination.key,
                label=combination.label if combination.taxes else NO_TAX_LABEL,
                first_invoice=first_invoice,
                automatic=_code_choice(automatic) if automatic else None,
                chosen=tax.override_for(combination.key),
            )
        )
    return rows


@dataclass(frozen=True)
class WaitingSend:
    """A send parked for the admin's confirmation, as the settings page lists it."""

    invoice_id: str
    invoice_number: str | None
    requested_at: datetime


@dataclass(frozen=True)
class SettingsView:
    tenant: Tenant
    connection: Connection | None
    settings: TenantSettings | None
    blocked_reason: str | None
    parked: int
    activity: list[AuditRecord]
    choices: CompanyChoices | None
    choices_problem: str | None
    tax_rows: list[TaxRow]
    conflicts: list[InvoiceConflict]  # edited in QBO: the admin decides which version stays
    sends_waiting: list[WaitingSend]  # parked sends: emailed only once the admin confirms


def settings_view(tenant: Tenant, ports: ConnectPorts) -> SettingsView:
    tenant_id = tenant.tenant_id
    connection = ports.connections.get(tenant_id)
    choices, problem = None, None
    if connection is not None and connection.status is ConnectionStatus.CONNECTED:
        try:
            choices = company_choices(ports.qbo_for(tenant_id, connection.realm_id), _company(connection))
        except Refused as missing:
            problem = missing.message
        except (QboError, NeedsReconnect) as error:
            problem = f"The company's accounts and tax codes could not be read ({error})."
            connection = ports.connections.get(tenant_id)  # a refused refresh marks it needs_reconnect
    settings = ports.tenants.get_settings(tenant_id, connection.realm_id) if connection else None
    rows: list[TaxRow] = []
    if connection is not None and choices is not None:
        catalog = _store_tax_codes(tenant_id, connection.realm_id, choices, ports)
        rows = tax_rows(choices.tax_mode, catalog, settings)
    parked = ports.parked.parked(tenant_id)
    return SettingsView(
        tenant=tenant,
        connection=connection,
        settings=settings,
        blocked_reason=blocked_reason(connection, settings),
        parked=len(parked),
        activity=ports.audit.recent(tenant_id, ACTIVITY_SIZE),
        choices=choices,
        choices_problem=problem,
        tax_rows=rows,
        conflicts=ports.mappings.conflicts(tenant_id, connection.realm_id) if connection else [],
        sends_waiting=[
            _waiting_send(command, connection, ports)
            for command in parked
            if command.action is InvoiceAction.SEND
        ],
    )


def _store_tax_codes(
    tenant_id: str, realm_id: str, choices: CompanyChoices, ports: ConnectPorts
) -> TaxCatalog:
    """The page has just read the company's tax codes: they become the snapshot copies choose from."""
    ports.tenants.save_tax_codes(tenant_id, realm_id, choices.catalog_codes, ports.clock())
    return ports.tenants.get_tax_catalog(tenant_id, realm_id)


def _waiting_send(command: InvoiceCommand, connection: Connection | None, ports: ConnectPorts) -> WaitingSend:
    """Its number from the snapshot, or from the link once copied (a click carries no snapshot)."""
    number = command.snapshot.number if command.snapshot else None
    if number is None and connection is not None:
        link = ports.mappings.invoice_link(command.tenant_id, connection.realm_id, command.invoice_id)
        number = link.invoice_number if link else None
    return WaitingSend(command.invoice_id, number, command.requested_at)


class SettingsForm(BaseModel):
    """The settings form; the defaults are absent when the page could not list the company's choices."""

    model_config = ConfigDict(frozen=True)

    income_account_id: str | None = None
    tax_code_id: str | None = None
    # The tax table: combination key -> QBO tax code id ("" = automatic); None when it was not shown.
    tax_overrides: dict[str, str] | None = None
    copy_when_opened: bool = False
    send_when_marked_sent: bool = False


@dataclass(frozen=True)
class Saved:
    resumed: int
    missing_exempt_code: bool = False  # non-US: untaxed invoices cannot be copied until QBO has one


def save_settings(tenant: Tenant, form: SettingsForm, ports: ConnectPorts) -> Saved:
    tenant_id = tenant.tenant_id
    changes: list[str] = []
    missing_exempt_code = False
    if form.income_account_id is not None or form.tax_code_id is not None:
        connection = ports.connections.get(tenant_id)
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            raise Refused(409, "Not connected", "Nothing was saved: connect to QuickBooks Online first.")
        company = _company(connection)
        realm_id = connection.realm_id
        try:
            choices = company_choices(ports.qbo_for(tenant_id, realm_id), company)
        except (QboError, NeedsReconnect) as error:
            raise Refused(502, "QuickBooks Online did not answer", f"Nothing was saved ({error}).") from None
        catalog = _store_tax_codes(tenant_id, realm_id, choices, ports)
        current = ports.tenants.get_settings(tenant_id, realm_id)
        rows = tax_rows(choices.tax_mode, catalog, current)
        overrides = _tax_overrides(form.tax_overrides, rows, choices.catalog_codes, current)
        settings = _chosen_settings(realm_id, choices, form, overrides)
        ports.tenants.save_settings(tenant_id, settings)
        changes.append(
            f"income account {settings.default_income_account_name}, tax code {settings.tax.tax_code_name}"
            + "".join(f", {o.key or 'no tax'} -> tax code {o.code_id}" for o in overrides)
        )
        missing_exempt_code = choices.tax_mode is TaxMode.PER_LINE and choices.exempt_tax_code is None
    policy = TriggerPolicy(
        copy_when_opened=form.copy_when_opened, send_when_marked_sent=form.send_when_marked_sent
    )
    if policy != tenant.trigger_policy:
        ports.tenants.save_tenant(tenant.model_copy(update={"trigger_policy": policy}))
    changes.append(
        f"copy when Open {'on' if policy.copy_when_opened else 'off'}, "
        f"send when Sent {'on' if policy.send_when_marked_sent else 'off'}"
    )
    _audit(ports, tenant_id, "settings", Outcome.DONE, "; ".join(changes))
    return Saved(resume_if_unblocked(tenant_id, ports), missing_exempt_code)


def _company(connection: Connection) -> CompanyProfile:
    if not connection.country:
        raise Refused(
            409,
            "Company details missing",
            "The company's country is not known yet: connect again to read it.",
        )
    return CompanyProfile(
        realm_id=connection.realm_id,
        country=connection.country,
        home_currency=connection.home_currency,
        custom_txn_numbers=connection.custom_txn_numbers,
        automated_sales_tax=connection.automated_sales_tax,
    )


def _tax_overrides(
    posted: dict[str, str] | None,
    rows: list[TaxRow],
    codes: Sequence[CatalogCode],
    current: TenantSettings | None,
) -> tuple[TaxOverride, ...]:
    """The posted tax table on top of the overrides of rows the page did not show (or all of them when
    the table was not posted); a combination or code the page did not offer is refused."""
    kept = current.tax.overrides if current else ()
    if posted is None:
        return kept
    offered_keys = {row.key for row in rows}
    offered_codes = {code.code_id for code in codes}
    chosen: list[TaxOverride] = [o for o in kept if o.key not in posted]
    for key, code_id in posted.items():
        if key not in offered_keys or (code_id and code_id not in offered_codes):
            raise Refused(
                400,
                "Choose a tax code",
                "Nothing was saved: pick one of the listed tax codes for each OneDesk tax.",
            )
        if code_id:
            chosen.append(TaxOverride(key=key, code_id=code_id))
    return tuple(sorted(chosen, key=lambda o: o.key))


def _chosen_settings(
    realm_id: str, choices: CompanyChoices, form: SettingsForm, overrides: tuple[TaxOverride, ...]
) -> TenantSettings:
    account = next((c for c in choices.income_accounts if c.id == form.income_account_id), None)
    tax = next((c for c in choices.tax_codes if c.id == form.tax_code_id), None)
    if account is None:
        raise Refused(
            400, "Choose an income account", "Nothing was saved: pick one of the listed income accounts."
        )
    if tax is None:
        raise Refused(400, "Choose a tax code", "Nothing was saved: pick one of the listed tax codes.")
    return TenantSettings(
        realm_id=realm_id,
        default_income_account_id=account.id,
        default_income_account_name=account.name,
        tax=TaxSettings(
            tax_code_id=tax.id, tax_code_name=tax.name, rate_percent=tax.rate_percent, overrides=overrides
        ),
    )


# ---------------------------------------------------------------- parked work


def resume_if_unblocked(tenant_id: str, ports: ConnectPorts) -> int:
    """After a save or a reconnect: queue the parked work again, unless it would only park again."""
    connection = ports.connections.get(tenant_id)
    settings = ports.tenants.get_settings(tenant_id, connection.realm_id) if connection else None
    if blocked_reason(connection, settings) is not None:
        return 0
    return resume_parked(tenant_id, ports)


def resume_parked(tenant_id: str, ports: ConnectPorts) -> int:
    """Queue the parked copies again. A parked send is copied too, but stays parked until the admin
    confirms it on the settings page: the customer is never emailed days later without that."""
    now = ports.clock()
    commands = ports.parked.parked(tenant_id)
    for command in commands:
        resumed = command.model_copy(
            update={"source": "parked", "resumed_at": now, "action": InvoiceAction.COPY}
        )
        ports.commands.enqueue(resumed)
        # Unpark after the enqueue: a crash in between runs the command twice (copies are
        # idempotent), never zero times.
        if command.action is InvoiceAction.COPY:
            ports.parked.unpark(command)
    if commands:
        _audit(
            ports,
            tenant_id,
            "resume",
            Outcome.DONE,
            f"{len(commands)} waiting command{'s' if len(commands) != 1 else ''} queued again"
            + _sends_waiting(sum(1 for c in commands if c.action is InvoiceAction.SEND)),
        )
    return len(commands)


def _sends_waiting(sends: int) -> str:
    return f" (sends copied only, waiting for the admin's confirmation: {sends})" if sends else ""


def _audit(
    ports: ConnectPorts,
    tenant_id: str,
    action: str,
    outcome: Outcome,
    reason: str,
    *,
    realm_id: str | None = None,
) -> None:
    ports.audit.record(
        AuditRecord(
            tenant_id=tenant_id,
            at=ports.clock(),
            action=action,
            outcome=outcome,
            reason=reason,
            realm_id=realm_id,
        )
    )
