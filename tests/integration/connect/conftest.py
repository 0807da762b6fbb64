"""The qbo_connect handler in-process (``app.handler`` with API Gateway v2 events) against moto, the QBO
emulator and the OneDesk emulator. ``Admin`` is a small cookie-keeping browser stand-in; the emulator's
consent page is driven over HTTP exactly as a browser would submit it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import pytest
import requests
from pydantic import SecretStr

from local.onedesk_sandbox import OneDeskSandbox
from local.qbo_sandbox import QboSandbox
from qbo_sync import wiring
from qbo_sync.adapters import aws
from qbo_sync.domain.signing import connect_link_signature
from qbo_sync.domain.tenant import Tenant
from tests.integration.qbo.conftest import (  # noqa: F401 - captured_logs is a fixture for these tests
    Stack,
    build_stack,
    captured_logs,
    clear_process_caches,
)
from tests.onedesk.sandbox_control import SandboxControl

FUNCTION_DIR = Path(__file__).resolve().parents[3] / "functions" / "qbo_connect"
PUBLIC_BASE_URL = "http://127.0.0.1:8765"  # the emulator accepts any loopback redirect URI
TIMEOUT = 30


def clear_wiring_caches() -> None:
    """The composition root's adapters are per process; a test's fresh table needs fresh ones."""
    clear_process_caches()
    aws.sqs_client.cache_clear()
    for value in vars(wiring).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


@pytest.fixture(scope="session")
def connect_app() -> ModuleType:
    """functions/qbo_connect/app.py, imported the way Lambda does (its folder on sys.path)."""
    sys.path.insert(0, str(FUNCTION_DIR))
    spec = importlib.util.spec_from_file_location("qbo_connect_app", FUNCTION_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def onedesk_sandbox() -> Iterator[OneDeskSandbox]:
    with OneDeskSandbox(port=0) as box:
        yield box


@dataclass
class LambdaContext:
    function_name: str = "QboConnectFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:QboConnectFunction"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: str

    @property
    def location(self) -> str:
        return self.headers["location"]


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def hidden_fields(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


class Admin:
    """One browser: keeps the cookies the handler sets and sends them back, like Chrome would."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, query: dict[str, str] | None = None, form: dict[str, str] | None = None
    ) -> Reply:
        raw_query = urlencode(query or {})
        body = urlencode(form) if form is not None else None
        headers = {"host": "127.0.0.1:8765", "user-agent": "pytest"}
        if body is not None:
            headers["content-type"] = "application/x-www-form-urlencoded"
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "127.0.0.1:8765",
                "domainPrefix": "127",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "pytest",
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": f"{method} {path}",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 0,
            },
            "isBase64Encoded": False,
        }
        if self.cookies:
            event["cookies"] = [f"{name}={value}" for name, value in self.cookies.items()]
        if query:
            event["queryStringParameters"] = dict(query)
        if body is not None:
            event["body"] = body
        result = self._module.handler(event, LambdaContext())
        cookies = list(result.get("cookies") or [])
        for cookie in cookies:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        headers_out = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
        return Reply(int(result["statusCode"]), headers_out, cookies, str(result.get("body") or ""))

    def get(self, path: str, query: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, query)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form=form)

    def csrf(self) -> str:
        page = self.get("/qbo/settings")
        assert page.status == 200, page.body
        return hidden_fields(page.body)["csrf"]


def signed_link(
    tenant: Tenant, *, secret: str | None = None, lifetime: timedelta = timedelta(minutes=5)
) -> dict[str, str]:
    expires = int((datetime.now(UTC) + lifetime).timestamp())
    signature = connect_link_signature(
        secret or tenant.shared_secret.get_secret_value(), tenant.tenant_id, expires
    )
    return {"tenant": tenant.tenant_id, "expires": str(expires), "sig": signature}


@dataclass
class World:
    stack: Stack
    module: ModuleType
    qbo_url: str
    onedesk: SandboxControl
    aws_endpoint: str
    commands_queue_url: str
    tenants: dict[str, Tenant] = field(default_factory=dict)
    onedesk_accounts: dict[str, Any] = field(default_factory=dict)

    def tenant(self, name: str = "Acme Consulting", plan: str = "Premium") -> Tenant:
        account = self.onedesk.tenant(name=name, plan=plan)
        tenant = Tenant(
            tenant_id=f"t-{uuid.uuid4().hex[:10]}",
            name=name,
            onedesk_api_key=SecretStr(account.api_key),
            shared_secret=SecretStr(f"shared-{uuid.uuid4().hex}"),
        )
        wiring.tenant_store().save_tenant(tenant)
        self.tenants[tenant.tenant_id] = tenant
        self.onedesk_accounts[tenant.tenant_id] = account
        return tenant

    def admin(self, tenant: Tenant | None = None) -> Admin:
        """A browser; with ``tenant``, one that opened the settings through OneDesk's signed link."""
        admin = Admin(self.module)
        if tenant is not None:
            reply = admin.get("/qbo/settings", signed_link(tenant))
            assert reply.status == 303, reply.body
        return admin

    def qbo_company(self, country: str, **options: Any) -> str:
        """A new company in the QBO emulator (e.g. ``automated_sales_tax=True``); its realm id."""
        body = {"name": f"{country} company", "country": country, **options}
        return str(self.stack.control.ok("POST", "/_sandbox/companies", body)["realmId"])

    def consent(self, authorize_url: str, realm: str, decision: str = "allow") -> dict[str, str]:
        """The emulator's consent page submitted like a browser: the query Intuit redirects back with."""
        page = requests.get(authorize_url, timeout=TIMEOUT)
        assert page.status_code == 200, page.text
        assert 'name="realmId"' in page.text
        form = {**hidden_fields(page.text), "realmId": realm, "decision": decision}
        answer = requests.post(
            f"{self.qbo_url}/connect/oauth2/decision", data=form, allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(f"{PUBLIC_BASE_URL}/qbo/callback?")
        return dict(parse_qsl(urlsplit(location).query))

    def connect(self, admin: Admin, tenant: Tenant, realm: str, decision: str = "allow") -> Reply:
        """Signed link -> Intuit consent -> our callback; the callback's reply."""
        start = admin.get("/qbo/connect", signed_link(tenant))
        assert start.status == 302, start.body
        return admin.get("/qbo/callback", self.consent(start.location, realm, decision))

    def items(self) -> list[dict[str, Any]]:
        table = aws.dynamodb_table(self.stack.settings.require("app_table_name"))
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        table = aws.dynamodb_table(self.stack.settings.require("app_table_name"))
        return table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")

    def revokes(self) -> list[dict[str, Any]]:
        return [e for e in self.stack.control.requests_log() if e["path"].endswith("/tokens/revoke")]

    def token_calls(self) -> list[dict[str, Any]]:
        return self.stack.control.token_calls()

    def queued_commands(self, wait_seconds: float = 2.0) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", endpoint_url=self.aws_endpoint)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            got = sqs.receive_message(
                QueueUrl=self.commands_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            for message in got:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.commands_queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not got and messages:
                break
            if not got:
                time.sleep(0.1)
        return messages


def _fifo_queue(endpoint: str, name: str) -> str:
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    url: str = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    return url


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    aws_endpoint: str,
    qbo_sandbox: QboSandbox,
    onedesk_sandbox: OneDeskSandbox,
    connect_app: ModuleType,
) -> Iterator[World]:
    qbo_url = qbo_sandbox.base_url.rstrip("/")
    stack = build_stack(monkeypatch, aws_endpoint, qbo_url)
    unique = uuid.uuid4().hex[:10]
    commands = _fifo_queue(aws_endpoint, f"commands-{unique}")
    extra = {
        "STAGE": "local",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "ONEDESK_API_BASE_URL": onedesk_sandbox.base_url,
        "INVOICE_COMMANDS_QUEUE_URL": commands,
        "INVOICE_DELIVERIES_QUEUE_URL": _fifo_queue(aws_endpoint, f"deliveries-{unique}"),
        "POWERTOOLS_METRICS_NAMESPACE": "OneDeskQboSync",
    }
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    clear_wiring_caches()
    onedesk = SandboxControl(onedesk_sandbox)
    onedesk.call("POST", "/reset")
    yield World(
        stack=stack,
        module=connect_app,
        qbo_url=qbo_url,
        onedesk=onedesk,
        aws_endpoint=aws_endpoint,
        commands_queue_url=commands,
    )
    clear_wiring_caches()
