"""Fixtures and helpers for the QBO sandbox emulator fidelity suite.

The tests judge `local.qbo_sandbox` against docs/qbo-sandbox-spec.md and docs/qbo-facts.md
(cited as qbo-facts §N).
Money is always compared as Decimal: responses are parsed with `json.loads(text, parse_float=Decimal)`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from local.qbo_sandbox import QboSandbox

US_REALM = "9130350000000001"
CA_REALM = "9130350000000002"
CLIENT_ID = "local-client-id"
CLIENT_SECRET = "local-client-secret"
VERIFIER_TOKEN = "local-verifier-token"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
DEFAULT_LIMITS = {"max_in_flight": 10, "max_per_minute": 500, "window_seconds": 60}
TIMEOUT = 30

JsonObj = dict[str, Any]

# Offset timestamp as QBO writes them, e.g. 2015-07-24T10:33:39-07:00 (qbo-facts §1 envelope).
OFFSET_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")

_DEC_MARK = re.compile(r'"__dec__(-?[0-9.]+)__"')


def _dec_default(value: object) -> str:
    if isinstance(value, Decimal):
        return f"__dec__{value:f}__"
    raise TypeError(f"not JSON serialisable: {value!r}")


def dumps(obj: Any) -> str:
    """JSON-encode `obj`, writing Decimal values as exact JSON numbers (never via float)."""
    return _DEC_MARK.sub(r"\1", json.dumps(obj, default=_dec_default))


def loads(resp: requests.Response) -> Any:
    """Parse a JSON response with every non-integer number as Decimal."""
    return json.loads(resp.text, parse_float=Decimal)


def parse_ts(value: str) -> datetime:
    """Parse an offset timestamp; fails on naive ones."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def fault_codes(resp: requests.Response) -> list[str]:
    """Codes of a `{"Fault": {"Error": [...]}}` body (HTTP 400 or a batch item)."""
    return [err["code"] for err in loads(resp)["Fault"]["Error"]]


def fault_error(body: JsonObj) -> JsonObj:
    """First Error of a Fault body (top-level or batch item)."""
    errors: list[JsonObj] = body["Fault"]["Error"]
    return errors[0]


def assert_fault(resp: requests.Response, code: str, status: int = 400) -> JsonObj:
    """Assert a QBO ValidationFault-style body with `code`; return its first Error."""
    assert resp.status_code == status, resp.text
    body = loads(resp)
    assert "Fault" in body, body
    assert "time" in body, body
    err = fault_error(body)
    assert err["code"] == code, body
    assert isinstance(err["code"], str)
    return err


def sales_line(
    amount: str,
    item_id: str,
    *,
    qty: str | None = None,
    price: str | None = None,
    tax: str | None = None,
    description: str | None = None,
) -> JsonObj:
    """A SalesItemLineDetail line; money given as strings and sent as exact JSON numbers."""
    detail: JsonObj = {"ItemRef": {"value": item_id}}
    if qty is not None:
        detail["Qty"] = Decimal(qty)
    if price is not None:
        detail["UnitPrice"] = Decimal(price)
    if tax is not None:
        detail["TaxCodeRef"] = {"value": tax}
    line: JsonObj = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal(amount),
        "SalesItemLineDetail": detail,
    }
    if description is not None:
        line["Description"] = description
    return line


def sales_lines(invoice: JsonObj) -> list[JsonObj]:
    return [ln for ln in invoice["Line"] if ln.get("DetailType") == "SalesItemLineDetail"]


class Control:
    """Client for the emulator's `/_sandbox/...` control API and OAuth endpoints (no data-API auth)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **params: str) -> requests.Response:
        return self.http.request(
            method, self.base_url + path, json=body, params=params or None, timeout=TIMEOUT
        )

    def ok(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        resp = self.call(method, path, body, **params)
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return loads(resp) if resp.content else None

    def token(self, realm: str) -> JsonObj:
        """Mint a token pair for `realm` as if OAuth had completed."""
        result: JsonObj = self.ok("POST", "/_sandbox/tokens", {"realmId": realm})
        return result

    def entities(self, realm: str, entity: str) -> list[JsonObj]:
        body = self.ok("GET", f"/_sandbox/entities/{realm}/{entity}")
        if isinstance(body, dict):
            body = body[entity]
        assert isinstance(body, list), body
        return body

    def entity(self, realm: str, entity: str, entity_id: str) -> JsonObj:
        matches = [obj for obj in self.entities(realm, entity) if obj["Id"] == entity_id]
        assert len(matches) == 1, f"{entity} {entity_id}: {len(matches)} stored"
        return matches[0]

    def find_id(self, realm: str, entity: str, name: str) -> str:
        """Id of the seeded/created name-list object whose DisplayName or Name is `name`."""
        for obj in self.entities(realm, entity):
            if name in (obj.get("DisplayName"), obj.get("Name")):
                entity_id: str = obj["Id"]
                return entity_id
        raise AssertionError(f"no {entity} named {name!r} in realm {realm}")

    def clock(self, **body: float) -> Any:
        return self.ok("PUT", "/_sandbox/clock", body)

    def app(self, **body: Any) -> Any:
        return self.ok("PUT", "/_sandbox/app", body)

    def request_log(self, realm: str | None = None) -> list[JsonObj]:
        entries: list[JsonObj] = self.ok("GET", "/_sandbox/requests", **({"realmId": realm} if realm else {}))
        return entries


class Api:
    """Data-API client for one realm: Bearer token, Accept JSON, minorversion=75 on every call."""

    def __init__(self, base_url: str, realm: str, access_token: str | None) -> None:
        self.base_url = base_url
        self.realm = realm
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        if access_token is not None:
            self.http.headers["Authorization"] = f"Bearer {access_token}"

    def use_token(self, access_token: str) -> None:
        """Switch to another access token (e.g. after moving the emulator clock past the 1 h lifetime)."""
        self.http.headers["Authorization"] = f"Bearer {access_token}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/v3/company/{self.realm}/{path}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: str | bytes | None = None,
        content_type: str | None = None,
        **params: str,
    ) -> requests.Response:
        headers: dict[str, str] = {}
        if body is not None:
            data = dumps(body)
            content_type = content_type or "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.http.request(
            method,
            self.url(path),
            params={"minorversion": "75", **params},
            data=data,
            headers=headers,
            timeout=TIMEOUT,
        )

    def get(self, path: str, **params: str) -> requests.Response:
        return self.request("GET", path, **params)

    def post(self, path: str, body: Any = None, **params: str) -> requests.Response:
        return self.request("POST", path, body, **params)

    def _entity(self, resp: requests.Response, entity: str) -> JsonObj:
        assert resp.status_code == 200, resp.text
        obj: JsonObj = loads(resp)[entity]
        return obj

    def create(self, entity: str, body: JsonObj, **params: str) -> JsonObj:
        return self._entity(self.post(entity.lower(), body, **params), entity)

    def update(self, entity: str, body: JsonObj, **params: str) -> JsonObj:
        return self._entity(self.post(entity.lower(), body, **params), entity)

    def read(self, entity: str, entity_id: str) -> JsonObj:
        return self._entity(self.get(f"{entity.lower()}/{entity_id}"), entity)

    def send(self, invoice_id: str, **params: str) -> requests.Response:
        return self.request(
            "POST", f"invoice/{invoice_id}/send", data=b"", content_type="application/octet-stream", **params
        )

    def query(self, statement: str) -> requests.Response:
        """GET /query?query=... (the URL-encoded form)."""
        return self.get("query", query=statement)

    def query_post(self, statement: str) -> requests.Response:
        """POST /query with Content-Type application/text (the python-quickbooks form)."""
        return self.request("POST", "query", data=statement.encode(), content_type="application/text")

    def rows(self, statement: str, entity: str) -> list[JsonObj]:
        resp = self.query(statement)
        assert resp.status_code == 200, resp.text
        found: list[JsonObj] = loads(resp)["QueryResponse"].get(entity, [])
        return found

    def invoice(self, customer_id: str, lines: list[JsonObj], **extra: Any) -> JsonObj:
        return self.create("Invoice", {"CustomerRef": {"value": customer_id}, "Line": lines, **extra})


class ConsentForm(HTMLParser):
    """Collects the consent page's form: action, hidden inputs, realm options and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.select_names: list[str] = []
        self.options: list[tuple[str, bool]] = []
        self.buttons: list[dict[str, str]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form" and self.action is None:
            self.action = attr.get("action", "")
        elif tag == "input" and attr.get("name") and attr.get("type", "text") != "submit":
            self.fields[attr["name"]] = attr.get("value", "")
        elif tag == "select":
            self.select_names.append(attr.get("name", ""))
        elif tag == "option":
            self.options.append((attr.get("value", ""), "selected" in attr))
        elif tag == "button" or (tag == "input" and attr.get("type") == "submit"):
            self.buttons.append(attr)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse_consent(html: str) -> ConsentForm:
    form = ConsentForm()
    form.feed(html)
    return form


def authorize_params(state: str = "st-123", redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": ACCOUNTING_SCOPE,
        "redirect_uri": redirect_uri,
        "state": state,
    }


def submit_consent(
    http: requests.Session, page_url: str, html: str, *, realm: str | None, decision: str = "allow"
) -> requests.Response:
    """POST the consent form like a browser would (hidden inputs + chosen realm + button), no redirects."""
    form = parse_consent(html)
    data = dict(form.fields)
    if realm is not None:
        data["realmId"] = realm
    data["decision"] = decision
    action = urljoin(page_url, form.action or "/connect/oauth2/decision")
    return http.post(action, data=data, allow_redirects=False, timeout=TIMEOUT)


@pytest.fixture(scope="session")
def base_url(qbo_sandbox: QboSandbox) -> str:
    url: str = qbo_sandbox.base_url
    return url.rstrip("/")


@pytest.fixture(scope="session")
def ctl(base_url: str) -> Control:
    return Control(base_url)


@pytest.fixture(autouse=True)
def _reset(ctl: Control) -> None:
    """Seeded state before every test; normal clock speed and default limits; a fresh throttle window."""
    ctl.ok("POST", "/_sandbox/reset")
    ctl.ok("PUT", "/_sandbox/limits", DEFAULT_LIMITS)
    # Moving the clock past the 60 s window keeps earlier tests' traffic out of this test's limits.
    ctl.clock(speed=1.0, advance_seconds=61)


@pytest.fixture
def us(_reset: None, base_url: str, ctl: Control) -> Api:
    return Api(base_url, US_REALM, ctl.token(US_REALM)["access_token"])


@pytest.fixture
def ca(_reset: None, base_url: str, ctl: Control) -> Api:
    return Api(base_url, CA_REALM, ctl.token(CA_REALM)["access_token"])


@pytest.fixture
def us_ids(_reset: None, ctl: Control) -> dict[str, str]:
    """Seeded US ids by name."""
    return {
        "amy": ctl.find_id(US_REALM, "Customer", "Amy's Bird Sanctuary"),
        "bill": ctl.find_id(US_REALM, "Customer", "Bill's Windsurf Shop"),
        "old": ctl.find_id(US_REALM, "Customer", "Old Customer"),
        "hours": ctl.find_id(US_REALM, "Item", "Hours"),
        "design": ctl.find_id(US_REALM, "Item", "Design"),
    }


@pytest.fixture
def ca_ids(_reset: None, ctl: Control) -> dict[str, str]:
    """Seeded CA ids by name."""
    return {
        "amy": ctl.find_id(CA_REALM, "Customer", "Amy's Bird Sanctuary"),
        "bill": ctl.find_id(CA_REALM, "Customer", "Bill's Windsurf Shop"),
        "hours": ctl.find_id(CA_REALM, "Item", "Hours"),
    }
