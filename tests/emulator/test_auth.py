"""Data-API authentication/authorisation and the intuit_tid header (qbo-facts §1, §5, §11)."""

from __future__ import annotations

import requests

from .conftest import (
    CA_REALM,
    CLIENT_ID,
    CLIENT_SECRET,
    US_REALM,
    Api,
    Control,
    loads,
)


def assert_401(resp: requests.Response) -> None:
    """qbo-facts §5 gateway auth fault: 401, lower-case `fault` body with error[].code "3200",
    www-authenticate Bearer realm="Intuit", error="invalid_token"."""
    assert resp.status_code == 401, resp.text
    body = loads(resp)
    assert "Fault" not in body
    err = body["fault"]["error"][0]
    assert err["code"] == "3200"
    assert "AuthenticationFailed" in err["message"]
    challenge = resp.headers.get("www-authenticate", "")
    assert 'Bearer realm="Intuit"' in challenge
    assert 'error="invalid_token"' in challenge
    assert resp.headers.get("intuit_tid")


def test_missing_token_is_401(base_url: str) -> None:
    """qbo-facts §1 headers (Authorization required) + §5: no token ⇒ 401 lower-case fault 3200."""
    assert_401(Api(base_url, US_REALM, None).get(f"companyinfo/{US_REALM}"))


def test_unknown_token_is_401(base_url: str) -> None:
    """qbo-facts §5/§11: an access token the server never issued ⇒ 401 3200."""
    assert_401(Api(base_url, US_REALM, "eyJ-not-a-real-token").get(f"companyinfo/{US_REALM}"))


def test_expired_token_via_control_is_401(us: Api, ctl: Control) -> None:
    """qbo-facts §11 (expired access token ⇒ 401 3200) via POST /_sandbox/tokens/expire."""
    assert us.get(f"companyinfo/{US_REALM}").status_code == 200
    ctl.ok("POST", "/_sandbox/tokens/expire", {"realmId": US_REALM})
    assert_401(us.get(f"companyinfo/{US_REALM}"))
    assert_401(us.post("customer", {"DisplayName": "Nope"}))


def test_token_expires_after_one_hour_of_emulator_clock(us: Api, ctl: Control) -> None:
    """qbo-facts §11 lifetimes: access token valid 3600 s (emulator clock)."""
    ctl.clock(advance_seconds=3500)
    assert us.get(f"companyinfo/{US_REALM}").status_code == 200
    ctl.clock(advance_seconds=200)
    assert_401(us.get(f"companyinfo/{US_REALM}"))


def test_expire_is_per_realm(us: Api, ca: Api, ctl: Control) -> None:
    """Spec /_sandbox/tokens/expire {"realmId"}: only that realm's tokens expire."""
    ctl.ok("POST", "/_sandbox/tokens/expire", {"realmId": US_REALM})
    assert_401(us.get(f"companyinfo/{US_REALM}"))
    assert ca.get(f"companyinfo/{CA_REALM}").status_code == 200


def test_revoked_token_is_401(base_url: str, ctl: Control) -> None:
    """qbo-facts §11 revoke: POST /v2/oauth2/tokens/revoke {"token": refresh} with Basic auth ⇒ 200 and
    the grant's access tokens stop working (401 3200)."""
    pair = ctl.token(US_REALM)
    api = Api(base_url, US_REALM, pair["access_token"])
    assert api.get(f"companyinfo/{US_REALM}").status_code == 200
    resp = requests.post(
        base_url + "/v2/oauth2/tokens/revoke",
        json={"token": pair["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert_401(api.get(f"companyinfo/{US_REALM}"))


def test_token_for_other_realm_is_403_3100(base_url: str, ctl: Control) -> None:
    """qbo-facts §1/§5: a token not authorised for the realm in the path ⇒ 403, fault code 3100
    ApplicationAuthorizationFailed."""
    ca_token = ctl.token(CA_REALM)["access_token"]
    resp = Api(base_url, US_REALM, ca_token).get(f"companyinfo/{US_REALM}")
    assert resp.status_code == 403, resp.text
    body = loads(resp)
    err = body["fault"]["error"][0]
    assert err["code"] == "3100"
    assert "ApplicationAuthorizationFailed" in err["message"]
    assert resp.headers.get("intuit_tid")


def test_token_response_shape(ctl: Control) -> None:
    """qbo-facts §11 token response: token_type bearer, expires_in 3600, x_refresh_token_expires_in
    8726400, opaque access/refresh tokens."""
    pair = ctl.token(US_REALM)
    assert pair["token_type"].lower() == "bearer"
    assert pair["expires_in"] == 3600
    assert pair["x_refresh_token_expires_in"] == 8726400
    assert pair["access_token"] and pair["refresh_token"]
    assert pair["access_token"] != pair["refresh_token"]
    assert ctl.token(US_REALM)["access_token"] != pair["access_token"]


def test_intuit_tid_on_every_data_response(base_url: str, us: Api, ctl: Control) -> None:
    """qbo-facts §1 headers: every response carries `intuit_tid` (200, 400, 401, 403, query, 429-free
    paths); ids differ per request."""
    responses = [
        us.get(f"companyinfo/{US_REALM}"),
        us.get("customer/99999"),
        us.query("SELECT * FROM Customer"),
        us.query("SELECT * FROM Customer WHERE DisplayName = 'bad'quote'"),
        us.post("customer", {"DisplayName": "Tid Co"}),
        Api(base_url, US_REALM, None).get(f"companyinfo/{US_REALM}"),
        Api(base_url, US_REALM, ctl.token(CA_REALM)["access_token"]).get(f"companyinfo/{US_REALM}"),
    ]
    assert [r.status_code for r in responses] == [200, 400, 200, 400, 200, 401, 403]
    tids = [r.headers.get("intuit_tid") for r in responses]
    assert all(tids), tids
    assert len(set(tids)) == len(tids)


def test_intuit_tid_on_throttled_response(us: Api, ctl: Control) -> None:
    """qbo-facts §1 headers + §6: even a 429 carries intuit_tid."""
    ctl.ok("PUT", "/_sandbox/limits", {"max_in_flight": 10, "max_per_minute": 1, "window_seconds": 60})
    assert us.get(f"companyinfo/{US_REALM}").status_code == 200
    resp = us.get(f"companyinfo/{US_REALM}")
    assert resp.status_code == 429
    assert resp.headers.get("intuit_tid")
