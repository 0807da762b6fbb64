"""OAuth 2.0: discovery, consent, code exchange, refresh rotation, revoke (qbo-facts §11)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import (
    CA_REALM,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    US_REALM,
    Api,
    Control,
    JsonObj,
    authorize_params,
    parse_consent,
    submit_consent,
)

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"


def consent_page(base_url: str, http: requests.Session | None = None, **overrides: str) -> requests.Response:
    """GET the authorize URL (the browser's first step); cookies, if any, stay in `http`."""
    params = {**authorize_params(), **overrides}
    client = http or requests.Session()
    return client.get(base_url + "/connect/oauth2", params=params, allow_redirects=False, timeout=30)


def get_code(
    base_url: str, realm: str = US_REALM, state: str = "st-123", redirect_uri: str = REDIRECT_URI
) -> str:
    http = requests.Session()
    page = consent_page(base_url, http, state=state, redirect_uri=redirect_uri)
    assert page.status_code == 200, page.text
    resp = submit_consent(http, page.url, page.text, realm=realm)
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    return query["code"][0]


def token_call(
    base_url: str, data: dict[str, str], auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET)
) -> requests.Response:
    return requests.post(
        base_url + TOKEN_PATH, data=data, auth=auth, headers={"Accept": "application/json"}, timeout=30
    )


def exchange(base_url: str, code: str, redirect_uri: str = REDIRECT_URI) -> requests.Response:
    return token_call(
        base_url, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    )


def refresh(base_url: str, refresh_token: str) -> requests.Response:
    return token_call(base_url, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def revoke(base_url: str, token: str) -> requests.Response:
    return requests.post(
        base_url + REVOKE_PATH,
        json={"token": token},
        auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Accept": "application/json"},
        timeout=30,
    )


def assert_invalid_grant(resp: requests.Response) -> None:
    """qbo-facts §11: refresh/code failure ⇒ HTTP 400 {"error":"invalid_grant"}."""
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "path", ["/.well-known/openid_configuration", "/.well-known/openid_sandbox_configuration"]
)
def test_discovery_document(base_url: str, path: str) -> None:
    """qbo-facts §11 endpoints + intuit-oauth discovery: the discovery JSON names the authorize, token,
    revocation, userinfo, issuer and JWKS endpoints (here on the emulator host)."""
    resp = requests.get(base_url + path, timeout=30)
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["authorization_endpoint"] == base_url + "/connect/oauth2"
    assert doc["token_endpoint"] == base_url + TOKEN_PATH
    assert doc["revocation_endpoint"] == base_url + REVOKE_PATH
    assert doc["jwks_uri"] == base_url + "/op/v1/jwks"
    assert doc["issuer"]
    assert doc["userinfo_endpoint"]


def test_consent_page_has_company_picker_and_buttons(base_url: str) -> None:
    """qbo-facts §11 authorize (+ spec consent page): HTML titled "Connect to <app>", a
    <select name="realmId"> listing the companies (first selected), Authorize (allow) and Cancel (deny)."""
    resp = consent_page(base_url)
    assert resp.status_code == 200, resp.text
    assert "text/html" in resp.headers.get("Content-Type", "")
    form = parse_consent(resp.text)
    assert form.title.strip().startswith("Connect to")
    assert "realmId" in form.select_names
    values = [value for value, _ in form.options]
    assert US_REALM in values
    assert CA_REALM in values
    assert form.options[0][1] is True or not any(sel for _, sel in form.options)
    decisions = {(b.get("name"), b.get("value")) for b in form.buttons}
    assert ("decision", "allow") in decisions
    assert ("decision", "deny") in decisions
    assert "Authorize" in resp.text
    assert "Cancel" in resp.text


def test_consent_allow_redirects_with_code_state_realm(base_url: str) -> None:
    """qbo-facts §11: callback redirect_uri?code=…&state=…&realmId=… after consent."""
    http = requests.Session()
    page = consent_page(base_url, http, state="xyz-state")
    resp = submit_consent(http, page.url, page.text, realm=CA_REALM)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz-state"]
    assert query["realmId"] == [CA_REALM]
    assert query["code"][0]


def test_consent_deny_redirects_with_access_denied(base_url: str) -> None:
    """Spec consent Cancel (OAuth 2.0 as used by Intuit, qbo-facts §11): error=access_denied&state."""
    http = requests.Session()
    page = consent_page(base_url, http, state="deny-state")
    resp = submit_consent(http, page.url, page.text, realm=US_REALM, decision="deny")
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["deny-state"]
    assert "code" not in query


def test_authorize_rejects_unknown_client(base_url: str) -> None:
    """qbo-facts §11 authorize params (client_id must be the app's): unknown client ⇒ no consent form."""
    resp = consent_page(base_url, client_id="someone-else")
    assert resp.status_code >= 400
    assert 'name="realmId"' not in resp.text


def test_authorize_requires_accounting_scope(base_url: str) -> None:
    """qbo-facts §11 scopes + spec: scope must contain com.intuit.quickbooks.accounting ⇒ otherwise an error
    (4xx page or redirect with error=)."""
    resp = consent_page(base_url, scope="openid email")
    if resp.status_code == 302:
        assert "error=" in resp.headers["Location"]
    else:
        assert resp.status_code >= 400
        assert 'name="realmId"' not in resp.text


def test_authorize_rejects_unregistered_redirect_uri(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 (redirect_uri must be registered): with an explicit list, other URIs are refused."""
    ctl.app(redirect_uris=["http://127.0.0.1:9999/only"])
    assert consent_page(base_url, redirect_uri="http://127.0.0.1:9999/only").status_code == 200
    bad = consent_page(base_url, redirect_uri="http://127.0.0.1:8765/callback")
    assert bad.status_code >= 400
    assert 'name="realmId"' not in bad.text


def test_code_exchange_and_use(base_url: str) -> None:
    """qbo-facts §11 token request/response: authorization_code grant with Basic auth ⇒ {token_type bearer,
    expires_in 3600, refresh_token, x_refresh_token_expires_in 8726400, access_token}; the access token works
    for the consented realm."""
    code = get_code(base_url, realm=CA_REALM)
    resp = exchange(base_url, code)
    assert resp.status_code == 200, resp.text
    tok = resp.json()
    assert tok["token_type"].lower() == "bearer"
    assert tok["expires_in"] == 3600
    assert tok["x_refresh_token_expires_in"] == 8726400
    assert tok["access_token"] and tok["refresh_token"]
    api = Api(base_url, CA_REALM, tok["access_token"])
    assert api.get(f"companyinfo/{CA_REALM}").status_code == 200
    assert Api(base_url, US_REALM, tok["access_token"]).get(f"companyinfo/{US_REALM}").status_code == 403


def test_code_is_single_use(base_url: str) -> None:
    """qbo-facts §11 (spec: code single use): a second exchange of the same code ⇒ 400 invalid_grant."""
    code = get_code(base_url)
    assert exchange(base_url, code).status_code == 200
    assert_invalid_grant(exchange(base_url, code))


def test_code_redirect_uri_must_match(base_url: str) -> None:
    """qbo-facts §11 (spec): redirect_uri at exchange must equal the authorize one ⇒ else invalid_grant."""
    code = get_code(base_url)
    assert_invalid_grant(exchange(base_url, code, redirect_uri="http://127.0.0.1:8765/other"))


def test_code_expires_after_10_minutes(base_url: str, ctl: Control) -> None:
    """Spec (code valid 10 min of emulator clock; qbo-facts §11 callback code): 11 minutes later ⇒
    invalid_grant."""
    code = get_code(base_url)
    ctl.clock(advance_seconds=660)
    assert_invalid_grant(exchange(base_url, code))


def test_wrong_client_secret_is_401_invalid_client(base_url: str) -> None:
    """qbo-facts §11 token request (Basic client auth) + spec: wrong credentials ⇒ 401 invalid_client."""
    code = get_code(base_url)
    resp = token_call(
        base_url,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, "wrong-secret"),
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_refresh_rotates_and_old_token_dies(base_url: str) -> None:
    """qbo-facts §11 rotation: refresh returns a new refresh token (and access token); with the default
    grace 0 the superseded refresh token ⇒ invalid_grant; the new one keeps working."""
    first = exchange(base_url, get_code(base_url)).json()
    resp = refresh(base_url, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600
    assert_invalid_grant(refresh(base_url, first["refresh_token"]))
    third = refresh(base_url, second["refresh_token"])
    assert third.status_code == 200
    assert (
        Api(base_url, US_REALM, third.json()["access_token"]).get(f"companyinfo/{US_REALM}").status_code
        == 200
    )


def test_refresh_grace_period(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 rotation (grace UNCONF; spec refresh_grace_seconds): within the grace the old refresh
    token answers with the same new pair; after it ⇒ invalid_grant."""
    ctl.app(refresh_grace_seconds=30)
    first = ctl.token(US_REALM)
    new = refresh(base_url, first["refresh_token"]).json()
    again = refresh(base_url, first["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == new["refresh_token"]
    assert again.json()["access_token"] == new["access_token"]
    ctl.clock(advance_seconds=31)
    assert_invalid_grant(refresh(base_url, first["refresh_token"]))


def test_unknown_refresh_token_is_invalid_grant(base_url: str) -> None:
    """qbo-facts §11: unknown refresh token ⇒ 400 invalid_grant."""
    assert_invalid_grant(refresh(base_url, "RT1-never-issued"))


def test_revoke_then_refresh_is_invalid_grant(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 revoke: POST {"token"} with Basic auth ⇒ 200; the refresh token then ⇒ invalid_grant
    and the grant's access token ⇒ 401."""
    pair = ctl.token(US_REALM)
    resp = revoke(base_url, pair["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert_invalid_grant(refresh(base_url, pair["refresh_token"]))
    assert Api(base_url, US_REALM, pair["access_token"]).get(f"companyinfo/{US_REALM}").status_code == 401


def test_revoke_by_access_token_kills_refresh(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 revoke ("refresh or access token") + spec (or vice versa): revoking the access token
    revokes its grant's refresh token."""
    pair = ctl.token(US_REALM)
    assert revoke(base_url, pair["access_token"]).status_code == 200
    assert_invalid_grant(refresh(base_url, pair["refresh_token"]))


def test_access_token_ttl_configurable(base_url: str, ctl: Control) -> None:
    """Spec access_token_ttl_seconds (qbo-facts §11 lifetimes on the emulator clock): a 60 s TTL token is
    rejected with 401 after 61 s."""
    ctl.app(access_token_ttl_seconds=60)
    tok = exchange(base_url, get_code(base_url)).json()
    api = Api(base_url, US_REALM, tok["access_token"])
    assert api.get(f"companyinfo/{US_REALM}").status_code == 200
    ctl.clock(advance_seconds=61)
    assert api.get(f"companyinfo/{US_REALM}").status_code == 401


def get_code_for(base_url: str, client_id: str) -> str:
    http = requests.Session()
    page = consent_page(base_url, http, client_id=client_id)
    assert page.status_code == 200, page.text
    resp = submit_consent(http, page.url, page.text, realm=US_REALM)
    return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


def test_custom_client_credentials(base_url: str, ctl: Control) -> None:
    """Spec PUT /_sandbox/app client_id/client_secret (qbo-facts §11 Basic auth): the new pair is required."""
    ctl.app(client_id="my-app", client_secret="my-secret")
    code = get_code_for(base_url, "my-app")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    assert token_call(base_url, data, auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 401
    assert token_call(base_url, data, auth=("my-app", "my-secret")).status_code == 200


def test_every_token_call_is_logged(base_url: str, ctl: Control) -> None:
    """Spec request log (qbo-facts §11 token endpoint): every token/revoke call is recorded with its path and
    outcome, in order."""
    code = get_code(base_url)
    first = exchange(base_url, code).json()  # 200
    exchange(base_url, code)  # 400 reused code
    second = refresh(base_url, first["refresh_token"]).json()  # 200
    refresh(base_url, first["refresh_token"])  # 400 superseded
    token_call(base_url, {"grant_type": "refresh_token", "refresh_token": "x"}, auth=("bad", "bad"))  # 401
    revoke(base_url, second["refresh_token"])  # 200
    log: list[JsonObj] = ctl.request_log()
    token_entries = [e for e in log if e["path"].endswith(TOKEN_PATH)]
    revoke_entries = [e for e in log if e["path"].endswith(REVOKE_PATH)]
    assert [e["status"] for e in token_entries] == [200, 400, 200, 400, 401]
    assert [e["status"] for e in revoke_entries] == [200]
    seqs = [e["seq"] for e in token_entries]
    assert seqs == sorted(seqs)
    grant_text = " ".join(str(e) for e in token_entries)
    assert "authorization_code" in grant_text
    assert "refresh_token" in grant_text


def test_refresh_token_expires_after_its_lifetime(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 lifetimes: the refresh token lives x_refresh_token_expires_in (8726400 s, ~100 days,
    rolling); unused past that ⇒ invalid_grant."""
    pair = ctl.token(US_REALM)
    ctl.clock(advance_seconds=pair["x_refresh_token_expires_in"] + 60)
    assert_invalid_grant(refresh(base_url, pair["refresh_token"]))


def test_refresh_token_lifetime_is_rolling(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 lifetimes: the refresh token's ~100-day lifetime is rolling (extended on each use): a
    refresh after 60 days yields a token still valid 60 days later (120 days after the first grant)."""
    pair = ctl.token(US_REALM)
    ctl.clock(advance_seconds=60 * 86400)
    second = refresh(base_url, pair["refresh_token"])
    assert second.status_code == 200, second.text
    ctl.clock(advance_seconds=60 * 86400)
    assert refresh(base_url, second.json()["refresh_token"]).status_code == 200


def test_default_redirect_uris_are_local_only(base_url: str) -> None:
    """Spec app defaults (qbo-facts §11: redirect_uri must be registered): without an explicit list only
    http://127.0.0.1:*/ and http://localhost:*/ URLs are accepted."""
    assert consent_page(base_url, redirect_uri="http://localhost:3000/cb").status_code == 200
    bad = consent_page(base_url, redirect_uri="https://evil.example.com/cb")
    assert bad.status_code >= 400
    assert "Location" not in bad.headers


def test_decision_post_revalidates(base_url: str) -> None:
    """qbo-facts §11 (registered redirect_uri, known company): a forged decision POST with a foreign
    redirect_uri or an unknown realm does not redirect with a code."""
    forged = {
        **authorize_params(redirect_uri="https://evil.example.com/cb"),
        "realmId": US_REALM,
        "decision": "allow",
    }
    resp = requests.post(
        base_url + "/connect/oauth2/decision", data=forged, allow_redirects=False, timeout=30
    )
    assert "evil.example.com" not in resp.headers.get("Location", "")
    assert resp.status_code >= 400
    unknown_realm = {**authorize_params(), "realmId": "123", "decision": "allow"}
    resp = requests.post(
        base_url + "/connect/oauth2/decision", data=unknown_realm, allow_redirects=False, timeout=30
    )
    assert "code=" not in resp.headers.get("Location", "")
