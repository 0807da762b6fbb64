"""The whole local stack: moto provisioned from template.yaml, every function run by the Lambda runner,
the QBO and OneDesk emulators. Each test gets its own tenant, OneDesk account and QBO company, connected
through the product's real connect pages, so tests never share state."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from local.operator import AdminBrowser, forms_of, register_tenant, use_product_environment
from local.stack import LocalStack, product_stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with product_stack(schedule_speed=None, log_dir=ARTIFACTS / "logs" / "e2e") as running:
        use_product_environment(running)
        yield running


def _json(response: requests.Response) -> Any:
    assert response.status_code < 400, (
        f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    )
    return response.json(parse_float=Decimal)


@dataclass
class Qbo:
    """The QBO emulator's control API, for one realm."""

    base_url: str
    realm_id: str

    def entities(self, entity: str) -> list[dict[str, Any]]:
        return _json(requests.get(f"{self.base_url}/_sandbox/entities/{self.realm_id}/{entity}", timeout=10))

    def named(self, entity: str, field_name: str, value: str) -> list[dict[str, Any]]:
        return [e for e in self.entities(entity) if e.get(field_name) == value]

    def requests_log(self, since_seq: int = 0) -> list[dict[str, Any]]:
        log = _json(
            requests.get(
                f"{self.base_url}/_sandbox/requests",
                params={"realmId": self.realm_id, "since_seq": since_seq},
                timeout=10,
            )
        )
        return [entry for entry in log if entry.get("realmId") == self.realm_id]

    def last_seq(self) -> int:
        log = _json(requests.get(f"{self.base_url}/_sandbox/requests", timeout=10))
        return max((entry["seq"] for entry in log), default=0)

    def data_requests(self, since_seq: int) -> list[dict[str, Any]]:
        return [
            e for e in self.requests_log(since_seq) if e["seq"] > since_seq and "/v3/company/" in e["path"]
        ]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return _json(requests.request(method, f"{self.base_url}/_sandbox{path}", json=body, timeout=10))

    def data(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        """Act in QBO as a bookkeeper would (its data API, with a token of its own)."""
        token = self.control("POST", "/tokens", {"realmId": self.realm_id})["access_token"]
        response = requests.request(
            method,
            f"{self.base_url}/v3/company/{self.realm_id}/{path}",
            params={"minorversion": "75", **params},
            data=json.dumps(body, default=str) if body is not None else None,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        return _json(response)


@dataclass
class OneDesk:
    """The OneDesk emulator's control API, for one account."""

    control_url: str
    account_id: str
    api_key: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return _json(requests.request(method, f"{self.control_url}{path}", json=body, timeout=10))

    def organization(
        self, name: str, contact: str | None = "Pat Payer", email: str | None = "ap@example.test"
    ) -> str:
        body = {"name": name, "billingContactName": contact, "billingContactEmail": email}
        return str(self.call("POST", f"/accounts/{self.account_id}/organizations", body)["id"])

    def invoice(self, organization_id: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        body = {"organizationId": organization_id, "lines": lines, **fields}
        return dict(self.call("POST", f"/accounts/{self.account_id}/invoices", body))

    def move(self, invoice_id: str, *statuses: str) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for status in statuses:
            record = self.call("POST", f"/invoices/{invoice_id}/status", {"status": status})
        return record

    def edit(self, invoice_id: str, **fields: Any) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/invoices/{invoice_id}", fields))

    def record(self, invoice_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/invoices/{invoice_id}"))


@dataclass
class World:
    stack: LocalStack
    tenant: Any
    qbo: Qbo
    onedesk: OneDesk
    admin: AdminBrowser
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.stack.http_url

    def command(
        self, invoice_id: str, action: str = "copy", request_id: str | None = None
    ) -> requests.Response:
        from local.operator import send_command  # noqa: PLC0415

        response = send_command(self.api, self.tenant, invoice_id, action, request_id or uuid.uuid4().hex)
        assert response.status_code == 202, response.text
        return response

    def open_invoice(
        self, organization_id: str, lines: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        created = self.onedesk.invoice(organization_id, lines, **fields)
        return self.onedesk.move(created["id"], "Open")


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def _choose(page_html: str, select_name: str, label_part: str) -> str:
    """The option value whose label contains ``label_part`` (what an admin clicks)."""
    import re  # noqa: PLC0415

    select = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', page_html, re.S)
    assert select, f"no {select_name} select on the settings page"
    for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)):
        if label_part in label:
            return value
    raise AssertionError(f"no {select_name} option labelled {label_part!r}")


def make_world(stack: LocalStack, country: str, tax_label: str) -> World:
    qbo_url = stack.components["qbo"].base_url
    onedesk_sandbox: Any = stack.components["onedesk"]
    realm = _json(
        requests.post(
            f"{qbo_url}/_sandbox/companies",
            json={"name": f"E2E {country} {uuid.uuid4().hex[:6]}", "country": country},
            timeout=10,
        )
    )["realmId"]
    account = _json(
        requests.post(
            f"{onedesk_sandbox.control_url}/accounts", json={"name": "E2E Co", "plan": "Premium"}, timeout=10
        )
    )
    tenant = register_tenant("E2E Co", account["apiKey"])
    admin = AdminBrowser()
    page = admin.connect(stack.http_url, tenant, realm)
    assert "/qbo/settings" in page.url, page.text[:500]
    assert forms_of(page.text), "settings page has no form"
    income = _choose(page.text, "income_account_id", "Services")
    tax = _choose(page.text, "tax_code_id", tax_label)
    saved = admin.save_settings(income, tax)
    assert saved.status_code == 200
    return World(
        stack=stack,
        tenant=tenant,
        qbo=Qbo(qbo_url, realm),
        onedesk=OneDesk(onedesk_sandbox.control_url, account["accountId"], account["apiKey"]),
        admin=admin,
        settings={"income_account_id": income, "tax_code_id": tax},
    )


@pytest.fixture
def us_world(stack: LocalStack) -> World:
    return make_world(stack, "US", "California")


@pytest.fixture
def ca_world(stack: LocalStack) -> World:
    return make_world(stack, "CA", "GST")


def sqs_event(
    stack: LocalStack, queue_logical_id: str, bodies: list[str], receive_count: int = 1
) -> dict[str, Any]:
    """An SQS FIFO event as Lambda delivers it, for invoking a function directly (like `sam local invoke`)."""
    arn = stack.provisioned.resources[queue_logical_id].attributes["Arn"]
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"local-{uuid.uuid4().hex}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": now_ms,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now_ms,
                    "SequenceNumber": f"{18800000000000000000 + index}",
                    "MessageGroupId": "e2e",
                    "MessageDeduplicationId": uuid.uuid4().hex,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def sqs(stack: LocalStack) -> Any:
    return stack.provisioned.client("sqs")


def queue_depth(stack: LocalStack, queue_logical_id: str) -> int:
    attributes = sqs(stack).get_queue_attributes(
        QueueUrl=stack.provisioned.ref(queue_logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
