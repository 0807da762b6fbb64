"""Intuit OAuth 2.0 endpoints (§11): discovery, the consent page, token, revoke, userinfo, JWKS."""

import base64
import binascii
import hmac
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from local.qbo_sandbox.money import loads
from local.qbo_sandbox.state import AppRegistration, SandboxState
from local.qbo_sandbox.store import Company
from local.qbo_sandbox.tokens import ACCOUNTING_SCOPE, TokenError
from local.qbo_sandbox.wire import Request, Response, html_response, json_response, redirect

DISCOVERY_PATHS = ("/.well-known/openid_configuration", "/.well-known/openid_sandbox_configuration")
AUTHORIZE_PATH = "/connect/oauth2"
DECISION_PATH = "/connect/oauth2/decision"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL path
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

PAGE_STYLE = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
background:#f4f5f8;color:#393a3d}
header{background:#fff;border-bottom:1px solid #d4d7dc;padding:14px 32px;font-size:18px;font-weight:700}
header span{color:#2ca01c}
main{max-width:480px;margin:48px auto;background:#fff;border-radius:8px;
box-shadow:0 2px 10px rgba(0,0,0,.12);padding:32px 36px}
h1{font-size:24px;margin:0 0 12px}
p,li{line-height:1.5}
label{display:block;font-weight:600;margin:22px 0 6px}
select{width:100%;padding:10px;border:1px solid #8d9096;border-radius:4px;font-size:15px;background:#fff}
.actions{display:flex;flex-direction:row-reverse;justify-content:flex-start;gap:12px;margin-top:30px}
button{font-size:15px;padding:10px 24px;border-radius:4px;cursor:pointer;border:1px solid #8d9096;
background:#fff;color:#393a3d}
button.primary{background:#2ca01c;border-color:#2ca01c;color:#fff;font-weight:600}
.error{color:#c4262e}
footer{text-align:center;font-size:12px;color:#6b6c72;margin:24px}
"""


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n"
        "<header><span>intuit</span> quickbooks &middot; sandbox</header>\n"
        f"<main>\n{content}\n</main>\n"
        "<footer>Local QuickBooks Online sandbox emulator &mdash; "
        "no real Intuit account is involved.</footer>\n"
        "</body>\n</html>\n"
    )


def consent_page(app: AppRegistration, companies: list[Company], params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params.get(name, ""))}">'
        for name in ("client_id", "redirect_uri", "scope", "state", "response_type")
    )
    options = "".join(
        f'<option value="{escape(company.realm_id)}"{" selected" if index == 0 else ""}>'
        f"{escape(company.name)} ({escape(company.country)})</option>"
        for index, company in enumerate(companies)
    )
    name = escape(app.name)
    # Authorize comes first in the markup so pressing Enter allows; row-reverse shows it on the right.
    content = (
        f"<h1>Connect to {name}</h1>\n"
        f"<p><strong>{name}</strong> wants to connect to your QuickBooks company.</p>\n"
        f'<form method="post" action="{DECISION_PATH}">\n{hidden}\n'
        '<label for="realmId">Choose a company</label>\n'
        f'<select id="realmId" name="realmId">{options}</select>\n'
        f"<p>This lets {name} read and write your accounting data: customers, products and services, "
        "invoices and payments.</p>\n"
        '<div class="actions">\n'
        '<button type="submit" name="decision" value="allow" class="primary">Authorize</button>\n'
        '<button type="submit" name="decision" value="deny">Cancel</button>\n'
        "</div>\n</form>"
    )
    return _page(f"Connect to {app.name}", content)


def error_page(message: str) -> str:
    return _page(
        "Something went wrong", f'<h1>Something went wrong</h1>\n<p class="error">{escape(message)}</p>'
    )


def redirect_allowed(app: AppRegistration, uri: str) -> bool:
    if app.redirect_uris is not None:
        return uri in app.redirect_uris
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def _with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


class OAuthApi:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    @staticmethod
    def handles(path: str) -> bool:
        return path.rstrip("/") in (
            *DISCOVERY_PATHS,
            AUTHORIZE_PATH,
            DECISION_PATH,
            TOKEN_PATH,
            REVOKE_PATH,
            USERINFO_PATH,
            JWKS_PATH,
        )

    def dispatch(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        if path in DISCOVERY_PATHS and method == "GET":
            return json_response(200, self._discovery(request.base_url))
        if path == AUTHORIZE_PATH and method == "GET":
            return self._authorize(dict(request.query))
        if path == DECISION_PATH and method == "POST":
            return self._decision(_form(request))
        if path == TOKEN_PATH and method == "POST":
            return self._token(request)
        if path == REVOKE_PATH and method == "POST":
            return self._revoke(request)
        if path == USERINFO_PATH and method == "GET":
            return self._userinfo(request)
        if path == JWKS_PATH and method == "GET":
            return json_response(200, {"keys": []})
        return json_response(405, {"error": "method_not_allowed"})

    @staticmethod
    def _discovery(base: str) -> dict[str, Any]:
        return {
            "issuer": f"{base}/op/v1",
            "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
            "token_endpoint": f"{base}{TOKEN_PATH}",
            "userinfo_endpoint": f"{base}{USERINFO_PATH}",
            "revocation_endpoint": f"{base}{REVOKE_PATH}",
            "jwks_uri": f"{base}{JWKS_PATH}",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                "email",
                "profile",
                "address",
                "phone",
                ACCOUNTING_SCOPE,
                "com.intuit.quickbooks.payment",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def _request_problem(self, params: dict[str, str]) -> str | None:
        """Why an authorization request cannot be shown/honoured (Intuit shows an error page)."""
        app = self._state.app
        if params.get("client_id") != app.client_id:
            return "invalid_client: this client_id is not registered"
        if not redirect_allowed(app, params.get("redirect_uri", "")):
            return "invalid_request: redirect_uri is not registered for this app"
        if params.get("response_type") != "code":
            return "unsupported_response_type: response_type must be code"
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            return f"invalid_scope: the scope must include {ACCOUNTING_SCOPE}"
        return None

    def _authorize(self, params: dict[str, str]) -> Response:
        with self._state.lock:
            problem = self._request_problem(params)
            if problem:
                return html_response(400, error_page(problem))
            return html_response(
                200, consent_page(self._state.app, list(self._state.companies.values()), params)
            )

    def _decision(self, form: dict[str, str]) -> Response:
        state = self._state
        with state.lock:
            problem = self._request_problem(form)
            if problem:
                return html_response(400, error_page(problem))
            extra = {"state": form["state"]} if form.get("state") else {}
            if form.get("decision") == "deny":
                return redirect(_with_params(form["redirect_uri"], {"error": "access_denied", **extra}))
            realm_id = form.get("realmId", "")
            if form.get("decision") != "allow" or realm_id not in state.companies:
                return html_response(400, error_page("invalid_request: choose a company and a decision"))
            code = state.oauth.issue_code(
                realm_id, form["client_id"], form["redirect_uri"], form.get("scope", ""), state.clock.now()
            )
        return redirect(_with_params(form["redirect_uri"], {"code": code, **extra, "realmId": realm_id}))

    def _authenticated_client(self, request: Request) -> str | None:
        """The client_id when HTTP Basic client authentication is right."""
        scheme, _, encoded = request.header("authorization").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        app = self._state.app
        id_ok = hmac.compare_digest(client_id.encode(), app.client_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), app.client_secret.encode())
        return client_id if id_ok and secret_ok else None

    def _log(
        self, request: Request, status: int, outcome: str, realm_id: str | None, grant_type: str | None
    ) -> None:
        self._state.log_request(
            realmId=realm_id,
            method=request.method,
            path=request.path,
            status=status,
            fault_code=None if status == 200 else outcome,
            operation="token" if request.path.rstrip("/") == TOKEN_PATH else "revoke",
            grant_type=grant_type,
            outcome=outcome,
        )

    def _token(self, request: Request) -> Response:
        state = self._state
        form = _form(request)
        grant_type = form.get("grant_type", "")
        hard_expiry = request.header("x-include-refresh-token-hard-expires-in").lower() == "true"
        with state.lock:
            client_id = self._authenticated_client(request)
            if client_id is None:
                self._log(request, 401, "invalid_client", None, grant_type)
                return json_response(401, {"error": "invalid_client"})
            now, ttl = state.clock.now(), state.app.access_token_ttl_seconds
            known = state.oauth.grant_of(form.get("refresh_token", ""))
            try:
                if grant_type == "authorization_code":
                    grant, body = state.oauth.exchange_code(
                        form.get("code", ""), client_id, form.get("redirect_uri", ""), now, ttl, hard_expiry
                    )
                    outcome = "issued"
                elif grant_type == "refresh_token":
                    grant, body, replayed = state.oauth.refresh(
                        form.get("refresh_token", ""),
                        client_id,
                        now,
                        ttl,
                        state.app.refresh_grace_seconds,
                        hard_expiry,
                    )
                    outcome = "replayed_within_grace" if replayed else "rotated"
                else:
                    raise TokenError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
            except TokenError as error:
                self._log(request, 400, error.error, known.realm_id if known else None, grant_type)
                return json_response(400, {"error": error.error, "error_description": error.description})
            self._log(request, 200, outcome, grant.realm_id, grant_type)
            return json_response(200, body)

    def _revoke(self, request: Request) -> Response:
        state = self._state
        with state.lock:
            if self._authenticated_client(request) is None:
                self._log(request, 401, "invalid_client", None, None)
                return json_response(401, {"error": "invalid_client"})
            try:
                token = loads(request.body or b"{}").get("token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str) or not token:
                self._log(request, 400, "invalid_request", None, None)
                return json_response(400, {"error": "invalid_request"})
            grant = state.oauth.revoke(token)
            # RFC 7009: an unknown token is not an error for the caller.
            self._log(
                request, 200, "revoked" if grant else "unknown_token", grant.realm_id if grant else None, None
            )
            return Response(200, b"", "application/json")

    def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.header("authorization").partition(" ")
        with self._state.lock:
            try:
                if scheme.lower() != "bearer":
                    raise TokenError("invalid_token", "Bearer token required")
                grant = self._state.oauth.check_access_token(token.strip(), self._state.clock.now())
            except TokenError as error:
                return json_response(401, {"error": error.error, "error_description": error.description})
        return json_response(
            200,
            {
                "sub": grant.grant_id,
                "email": "sandbox-user@example.com",
                "emailVerified": True,
                "givenName": "Sandbox",
                "familyName": "User",
            },
        )
