"""The admin's pages: GET /qbo/connect, GET /qbo/callback, GET|POST /qbo/settings, POST /qbo/disconnect,
POST /qbo/confirm-switch, POST /qbo/conflicts, POST /qbo/parked-sends. Server-rendered HTML (pages.py);
the decisions are in usecases/connect.py and usecases/admin_decisions.py.

Who is asking: a link signed by OneDesk (``?tenant&expires&sig``) opens a session cookie; every
POST (and the reconnect link) must carry the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pages
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from qbo_sync import wiring
from qbo_sync.domain.signing import SESSION_LIFETIME
from qbo_sync.domain.tenant import Tenant
from qbo_sync.entrypoints import raw_body
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.admin_decisions import (
    ConflictDecision,
    SendDecision,
    decide_conflict,
    decide_parked_send,
)
from qbo_sync.usecases.connect import (
    CallbackQuery,
    Cancelled,
    ConfirmSwitch,
    NotEligible,
    Refused,
    SettingsForm,
    cancel_switch,
    check_csrf,
    confirm_switch,
    disconnect,
    finish_connect,
    form_token,
    open_session,
    save_settings,
    settings_view,
    start_connect,
    tenant_from_link,
    tenant_from_session,
)

SESSION_COOKIE = "qbo_session"
MAX_FORM_BYTES = 16 * 1024
INVOICE_ID_MAX = 128
_LINK_PARAMETERS = ("tenant", "expires", "sig")
app = APIGatewayHttpResolver()


@dataclass(frozen=True)
class Visitor:
    tenant: Tenant
    session: str
    new_session: bool = False  # opened by a signed link on this request: set the cookie

    @property
    def csrf(self) -> str:
        return form_token(self.tenant, self.session)


def _query() -> dict[str, str]:
    return app.current_event.query_string_parameters or {}


def _visitor_from_link() -> Visitor | None:
    query = _query()
    if not any(name in query for name in _LINK_PARAMETERS):
        return None
    now = wiring.utc_now()
    tenant = tenant_from_link(
        wiring.tenant_store(), query.get("tenant"), query.get("expires"), query.get("sig"), now
    )
    logger.append_keys(tenant_id=tenant.tenant_id)
    return Visitor(tenant, open_session(tenant, now), new_session=True)


def _visitor_from_session() -> Visitor | None:
    session = None
    for cookie in app.current_event.cookies or []:
        name, _, value = cookie.partition("=")
        if name.strip() == SESSION_COOKIE:
            session = value.strip()
    tenant = tenant_from_session(wiring.tenant_store(), session, wiring.utc_now())
    return Visitor(tenant, session) if tenant is not None and session else None


def _require_visitor() -> Visitor:
    visitor = _visitor_from_session()
    if visitor is None:
        raise Refused(
            403,
            "Your session has expired",
            "Open the QuickBooks Online settings again from OneDesk (Administration > Financials).",
        )
    logger.append_keys(tenant_id=visitor.tenant.tenant_id)
    return visitor


def _count(value: str | None) -> int:
    """A small count from the address bar (ours, but anyone can edit it): anything else reads as 0."""
    return int(value) if value and len(value) <= 9 and value.isascii() and value.isdigit() else 0


def _posted_form(visitor: Visitor) -> dict[str, str]:
    body = raw_body(app.current_event)
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "Form too large", "Nothing was changed.")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    check_csrf(visitor.tenant, visitor.session, form.get("csrf"))
    return form


def _redirect_uri() -> str:
    # Empty PUBLIC_BASE_URL: the host this request came to (template.yaml explains why).
    base = wiring.settings().public_base_url or f"https://{app.current_event.request_context.domain_name}"
    return base.rstrip("/") + "/qbo/callback"


def _headers(location: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": pages.CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    if location is not None:
        headers["Location"] = location
    return headers


def _cookies(visitor: Visitor | None) -> list[Cookie] | None:
    if visitor is None or not visitor.new_session:
        return None
    return [
        Cookie(
            name=SESSION_COOKIE,
            value=visitor.session,
            path="/qbo",
            secure=wiring.settings().stage != "local",  # the local stack serves plain http
            http_only=True,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            same_site=SameSite.LAX_MODE,  # Lax: the cookie comes back on Intuit's redirect to /qbo/callback
        )
    ]


def _html(status: int, body: str, visitor: Visitor | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers=_headers(),
        cookies=_cookies(visitor),
    )


def _redirect(location: str, visitor: Visitor | None = None, status: int = 303) -> Response[str]:
    return Response(status_code=status, body="", headers=_headers(location), cookies=_cookies(visitor))


@app.exception_handler(Refused)  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
def refused(error: Refused) -> Response[str]:
    logger.info("request refused", extra={"status": error.status, "title": error.title})
    # A way back only inside a valid session, and not from a refusal about who is asking.
    back = error.status != 403 and _visitor_from_session() is not None
    return _html(error.status, pages.error(error.title, error.message, back=back))


@app.get("/qbo/connect")
def connect() -> Response[str]:
    visitor = _visitor_from_link()
    if visitor is None:  # the reconnect button of our own pages: the session plus its CSRF token
        visitor = _require_visitor()
        check_csrf(visitor.tenant, visitor.session, _query().get("csrf"))
    try:
        authorize_url = start_connect(visitor.tenant, _redirect_uri(), wiring.connect_ports())
    except NotEligible as not_eligible:
        return _html(403, pages.not_eligible(not_eligible.plan, visitor.tenant.name), visitor)
    return _redirect(authorize_url, visitor, status=302)


@app.get("/qbo/callback")
def callback() -> Response[str]:
    query = _query()
    visitor = _visitor_from_session()
    callback_query = CallbackQuery.model_validate(
        {
            "state": query.get("state"),
            "code": query.get("code"),
            "realm_id": query.get("realmId"),
            "error": query.get("error"),
        }
    )
    result = finish_connect(
        visitor.tenant if visitor else None, callback_query, _redirect_uri(), wiring.connect_ports()
    )
    assert visitor is not None  # finish_connect refuses a callback outside the tenant's session
    if isinstance(result, Cancelled):
        return _html(200, pages.cancelled(result.connection, visitor.tenant.name))
    if isinstance(result, ConfirmSwitch):
        page = pages.confirm_switch(result.current, result.new_realm_id, visitor.csrf, visitor.tenant.name)
        return _html(200, page)
    metrics.add_metric(name="QboConnected", unit="Count", value=1)
    if not result.profile_read:
        return _redirect("/qbo/settings?notice=connected-unread")
    return _redirect(f"/qbo/settings?notice=connected&resumed={result.resumed}")


@app.get("/qbo/settings")
def show_settings() -> Response[str]:
    opened = _visitor_from_link()
    if opened is not None:  # drop the signature from the address bar and the history
        return _redirect("/qbo/settings", opened)
    visitor = _require_visitor()
    query = _query()
    notice = pages.notice_for(query.get("notice"), _count(query.get("resumed")))
    view = settings_view(visitor.tenant, wiring.connect_ports())
    return _html(200, pages.settings(view, visitor.csrf, wiring.settings().intuit_environment, notice))


@app.post("/qbo/settings")
def save() -> Response[str]:
    visitor = _require_visitor()
    form = _posted_form(visitor)
    ports = wiring.connect_ports()
    try:
        saved = save_settings(
            visitor.tenant,
            SettingsForm(
                income_account_id=form.get("income_account_id"),
                tax_code_id=form.get("tax_code_id"),
                tax_overrides=_tax_overrides(form),
                copy_when_opened="copy_when_opened" in form,
                send_when_marked_sent="send_when_marked_sent" in form,
            ),
            ports,
        )
    except Refused as not_saved:  # the page again, with the reason above it
        view = settings_view(visitor.tenant, ports)
        notice = pages.Notice("error", f"{not_saved.title}. {not_saved.message}")
        page = pages.settings(view, visitor.csrf, wiring.settings().intuit_environment, notice)
        return _html(not_saved.status, page)
    code = "saved-no-exempt" if saved.missing_exempt_code else "saved"
    return _redirect(f"/qbo/settings?notice={code}&resumed={saved.resumed}")


def _tax_overrides(form: dict[str, str]) -> dict[str, str] | None:
    """The tax table's rows (``tax_key_N`` names the OneDesk taxes, ``tax_code_N`` the chosen code)."""
    rows = {name.removeprefix("tax_key_"): key for name, key in form.items() if name.startswith("tax_key_")}
    if not rows:
        return None
    return {key: form.get(f"tax_code_{index}", "") for index, key in rows.items()}


@app.post("/qbo/disconnect")
def disconnect_company() -> Response[str]:
    visitor = _require_visitor()
    _posted_form(visitor)
    connection = disconnect(visitor.tenant, wiring.connect_ports())
    metrics.add_metric(name="QboDisconnected", unit="Count", value=1)
    return _html(200, pages.disconnected(connection, visitor.csrf, visitor.tenant.name))


@app.post("/qbo/confirm-switch")
def switch_company() -> Response[str]:
    visitor = _require_visitor()
    form = _posted_form(visitor)
    ports = wiring.connect_ports()
    if form.get("decision") != "confirm":
        cancel_switch(visitor.tenant, ports)
        return _redirect("/qbo/settings?notice=kept")
    result = confirm_switch(visitor.tenant, ports)
    if not result.profile_read:
        return _redirect("/qbo/settings?notice=connected-unread")
    return _redirect(f"/qbo/settings?notice=connected&resumed={result.resumed}")


class ConflictForm(BaseModel):
    invoice_id: str = Field(min_length=1, max_length=INVOICE_ID_MAX)
    decision: ConflictDecision


class ParkedSendForm(BaseModel):
    invoice_id: str = Field(min_length=1, max_length=INVOICE_ID_MAX)
    decision: SendDecision


def _decision_form[F: BaseModel](visitor: Visitor, model: type[F]) -> F:
    """The invoice and the choice a decision form posted; anything else is a 400, never a 500."""
    form = _posted_form(visitor)
    try:
        return model.model_validate({"invoice_id": form.get("invoice_id"), "decision": form.get("decision")})
    except ValidationError:
        raise Refused(400, "Unknown choice", "Nothing was changed.") from None


@app.post("/qbo/conflicts")
def conflict_decision() -> Response[str]:
    visitor = _require_visitor()
    form = _decision_form(visitor, ConflictForm)
    decide_conflict(visitor.tenant, form.invoice_id, form.decision, wiring.connect_ports())
    return _redirect(f"/qbo/settings?notice=conflict-{form.decision}")


@app.post("/qbo/parked-sends")
def parked_send_decision() -> Response[str]:
    visitor = _require_visitor()
    form = _decision_form(visitor, ParkedSendForm)
    decide_parked_send(visitor.tenant, form.invoice_id, form.decision, wiring.connect_ports())
    return _redirect(f"/qbo/settings?notice=send-{form.decision}")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
