"""The people around the product, on the local stack: the operator (with the operator CLI's own
functions, pointed at the stack), OneDesk which signs links and command requests, and the admin whose
browser connects the tenant to a QBO company through the product's real pages and the emulator's consent
page. Used by the demo, `make dev` and the e2e tests.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import time
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import requests

from local.controls import OneDeskControl, QboControl
from local.runner.runner import lambda_environment
from local.stack import LocalStack
from onedesk_qbo.tenants import register_tenant

# The function whose environment the operator borrows: it names the table, the key and the endpoints.
_OPERATOR_FUNCTION = "CopyInvoiceFunction"
# Only a consuming function's own: the operator reaches each queue's DLQ through the queue.
_FUNCTION_ONLY_SETTINGS = {"DEAD_LETTER_QUEUE_URL"}


def operator_environment(stack: LocalStack) -> dict[str, str]:
    """What the operator CLI needs to act on the stack: the local AWS endpoint and credentials, the
    product's settings as the functions see them (emulator endpoints included), and every queue."""
    from qbo_sync.config import Settings  # noqa: PLC0415

    spec = stack.runner.functions[_OPERATOR_FUNCTION]
    environment = lambda_environment(spec, stack.provisioned, stack.function_overrides)
    settings = {name.upper() for name in Settings.model_fields} - _FUNCTION_ONLY_SETTINGS
    return {
        **stack.provisioned.environment(),
        **{name: value for name, value in environment.items() if name in settings},
        "INVOICE_COMMANDS_QUEUE_URL": stack.provisioned.ref("InvoiceCommandsQueue"),
        "INVOICE_DELIVERIES_QUEUE_URL": stack.provisioned.ref("InvoiceDeliveriesQueue"),
        "QBO_CHANGES_QUEUE_URL": stack.provisioned.ref("QboChangesQueue"),
    }


def write_operator_env_file(stack: LocalStack, path: Path) -> None:
    """``operator_environment`` as a file a shell can source before running ``onedesk-qbo``."""
    lines = [
        f"export {name}={shlex.quote(value)}" for name, value in sorted(operator_environment(stack).items())
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# The local stack for the operator CLI: source this file, then run onedesk-qbo.\n"
        + "\n".join(lines)
        + "\n"
    )


def use_product_environment(stack: LocalStack) -> None:
    """Point this process's product code (qbo_sync) at the stack, as the operator CLI is pointed."""
    os.environ.update(operator_environment(stack))
    _clear_product_caches()


def _clear_product_caches() -> None:
    from qbo_sync import config, wiring  # noqa: PLC0415 - only after the environment is set
    from qbo_sync.adapters import aws  # noqa: PLC0415

    for module in (config, wiring, aws):
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()


def signed_link(base_url: str, tenant: Any, path: str = "/qbo/settings", lifetime_seconds: int = 3600) -> str:
    """The link OneDesk's Administration > Financials page opens (HMAC with the tenant's secret)."""
    from qbo_sync.domain.signing import connect_link_signature  # noqa: PLC0415

    expires = int(time.time()) + lifetime_seconds
    signature = connect_link_signature(tenant.shared_secret.get_secret_value(), tenant.tenant_id, expires)
    query = urlencode({"tenant": tenant.tenant_id, "expires": expires, "sig": signature})
    return f"{base_url}{path}?{query}"


def send_command(
    base_url: str, tenant: Any, invoice_id: str, action: str, request_id: str
) -> requests.Response:
    """OneDesk's "Copy to QuickBooks Online" / "Send invoice" button: a signed POST /onedesk/commands."""
    from qbo_sync.domain.signing import sign  # noqa: PLC0415

    body = json.dumps({"invoice_id": invoice_id, "action": action, "request_id": request_id}).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-OneDesk-Tenant": tenant.tenant_id,
        "X-OneDesk-Timestamp": str(timestamp),
        "X-OneDesk-Signature": sign(tenant.shared_secret.get_secret_value(), timestamp, body),
    }
    return requests.post(f"{base_url}/onedesk/commands", data=body, headers=headers, timeout=10)


class _Forms(HTMLParser):
    """The forms of a page: action, method, and the values a browser would submit by default."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "fields": {}})
        elif not self.forms:
            return
        elif tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in attributes:
                self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "on")
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select:
            fields = self.forms[-1]["fields"]
            if "selected" in attributes or self._select not in fields:
                fields[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class AdminBrowser:
    """An admin's browser without the pixels: cookies, redirects across hosts, form submission."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.page: requests.Response | None = None

    def open(self, url: str) -> requests.Response:
        self.page = self.session.get(url, timeout=15)
        return self.page

    def submit(
        self, having: str | None = None, action: str | None = None, **values: str | None
    ) -> requests.Response:
        """Submit the page's first form with a field named ``having`` and/or posting to ``action``; a
        value of None unticks/removes that field."""
        assert self.page is not None, "open a page first"
        forms = [
            f
            for f in forms_of(self.page.text)
            if (having is None or having in f["fields"]) and (action is None or f["action"].endswith(action))
        ]
        assert forms, f"no such form ({having=}, {action=}) on {self.page.url}"
        form = forms[0]
        fields = {k: v for k, v in {**form["fields"], **values}.items() if v is not None}
        self.page = self.session.post(urljoin(self.page.url, form["action"]), data=fields, timeout=30)
        return self.page

    def connect(self, base_url: str, tenant: Any, realm_id: str) -> requests.Response:
        """Connect to QuickBooks Online: the signed link, Intuit's consent page, Authorize."""
        self.open(signed_link(base_url, tenant, "/qbo/connect"))
        page = self.submit("realmId", realmId=realm_id, decision="allow")
        page.raise_for_status()
        return page

    def save_settings(
        self, income_account_id: str, tax_code_id: str, **policy: str | None
    ) -> requests.Response:
        page = self.submit(
            "income_account_id", income_account_id=income_account_id, tax_code_id=tax_code_id, **policy
        )
        page.raise_for_status()
        return page

    def option(self, select_name: str, label_part: str) -> str:
        """The value of the current page's ``select_name`` option whose label contains ``label_part``."""
        assert self.page is not None, "open a page first"
        select = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', self.page.text, re.S)
        assert select, f"no {select_name} on {self.page.url}"
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)):
            if label_part in html.unescape(label):
                return value
        raise AssertionError(f"no {select_name} option labelled {label_part!r}")

    def tax_row_select(self, row_label: str) -> str:
        """The name of the tax table's select for the OneDesk taxes labelled ``row_label``."""
        assert self.page is not None, "open a page first"
        rows = re.findall(r'<tr><td>([^<]*)</td>.*?<select name="(tax_code_\d+)"', self.page.text)
        for label, name in rows:
            if html.unescape(label) == row_label:
                return str(name)
        raise AssertionError(f"no tax table row {row_label!r} on {self.page.url}")

    def choose_tax_code(self, row_label: str, code_label: str) -> requests.Response:
        """Choose, in the settings page's tax table, the QBO code for one combination of OneDesk taxes."""
        select = self.tax_row_select(row_label)
        page = self.submit("income_account_id", **{select: self.option(select, code_label)})
        page.raise_for_status()
        return page

    def disconnect(self) -> requests.Response:
        page = self.submit(action="/qbo/disconnect")
        page.raise_for_status()
        return page


@dataclass
class ConnectedTenant:
    """A tenant with its own OneDesk account (Premium) and QBO company, connected and configured."""

    tenant: Any
    qbo: QboControl
    onedesk: OneDeskControl
    admin: AdminBrowser
    settings: dict[str, str]


def connect_new_tenant(
    stack: LocalStack,
    country: str = "US",
    tax_label: str = "California",
    *,
    automated_sales_tax: bool = False,
) -> ConnectedTenant:
    """What an operator and an admin do for a new customer of the integration, on fresh emulator
    accounts: register the tenant, connect QBO through the real pages, save the default settings."""
    qbo = QboControl.new_company(
        stack.components["qbo"].base_url,
        f"{country} company {uuid.uuid4().hex[:6]}",
        country,
        automated_sales_tax=automated_sales_tax,
    )
    onedesk = OneDeskControl.new_account(stack.components["onedesk"].control_url, "Acme Consulting")  # type: ignore[attr-defined]
    tenant = register_tenant("Acme Consulting", onedesk.api_key)
    admin = AdminBrowser()
    page = admin.connect(stack.http_url, tenant, qbo.realm_id)
    if "/qbo/settings" not in page.url:
        raise AssertionError(f"connect did not reach the settings page: {page.url}")
    settings = {
        "income_account_id": admin.option("income_account_id", "Services"),
        "tax_code_id": admin.option("tax_code_id", tax_label),
    }
    admin.save_settings(**settings)
    return ConnectedTenant(tenant, qbo, onedesk, admin, settings)
