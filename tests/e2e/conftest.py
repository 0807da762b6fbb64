"""The whole local stack: moto provisioned from template.yaml, every function run by the Lambda runner,
the QBO and OneDesk emulators. Each test gets its own tenant, OneDesk account and QBO company, connected
through the product's real connect pages, so tests never share state."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from local.controls import OneDeskControl, QboControl, wait_for
from local.operator import (
    AdminBrowser,
    ConnectedTenant,
    connect_new_tenant,
    send_command,
    use_product_environment,
)
from local.qbo_sandbox.tokens import ACCESS_TOKEN_PREFIX
from local.stack import LocalStack, product_stack

__all__ = [
    "SUPPORT",
    "TRAINING",
    "World",
    "edit_and_reopen",
    "queue_depth",
    "sqs",
    "sqs_event",
    "synced",
    "wait_for",
]

# The time lines most tests bill: 1.5 h x 120.00 = 180.00, and 1.333 h x 75.00 = 99.98 (rounded half up).
SUPPORT = {
    "kind": "time",
    "description": "Fix login page",
    "serviceType": "Support",
    "hours": 1.5,
    "rate": 120,
}
TRAINING = {
    "kind": "time",
    "description": "Onboarding call",
    "serviceType": "Training",
    "hours": 1.333,
    "rate": 75,
}

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


LOG_DIR = ARTIFACTS / "logs" / "e2e"
# Secrets each test's tenant holds; the session's function logs must not contain any of them.
_TENANT_SECRETS: list[str] = []
_TOKEN_PATTERNS = (
    re.compile(r"RT1-[0-9a-f]{8}-H0-[0-9a-f]+"),
    re.compile(re.escape(ACCESS_TOKEN_PREFIX) + r"\S{8}"),
)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    offsets = {path: path.stat().st_size for path in LOG_DIR.glob("*.log")}
    with product_stack(schedule_speed=None, log_dir=LOG_DIR) as running:
        use_product_environment(running)
        app = requests.get(f"{running.components['qbo'].base_url}/_sandbox/app", timeout=10).json()
        yield running
    _assert_no_secret_in_function_logs(offsets, [app["client_secret"], app["verifier_token"]])


def _assert_no_secret_in_function_logs(offsets: dict[Path, int], app_secrets: list[str]) -> None:
    """Every line every function logged this session: no OAuth token, client secret, verifier token,
    OneDesk API key or shared secret (checked once the stack has stopped, so all logs are written)."""
    secrets = [secret for secret in [*app_secrets, *_TENANT_SECRETS] if secret]
    for path in sorted(LOG_DIR.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as log:
            log.seek(offsets.get(path, 0))
            text = log.read()
        leaked = [s[:6] + "..." for s in secrets if s in text]
        leaked += [pattern.pattern for pattern in _TOKEN_PATTERNS if pattern.search(text)]
        assert not leaked, f"{path.name} logged secrets matching {leaked}"


@dataclass
class World:
    """One test's tenant: its OneDesk account, its QBO company, its admin's browser, on the shared stack."""

    stack: LocalStack
    connected: ConnectedTenant

    @property
    def tenant(self) -> Any:
        return self.connected.tenant

    @property
    def qbo(self) -> QboControl:
        return self.connected.qbo

    @property
    def onedesk(self) -> OneDeskControl:
        return self.connected.onedesk

    @property
    def admin(self) -> AdminBrowser:
        return self.connected.admin

    @property
    def settings(self) -> dict[str, str]:
        return self.connected.settings

    @property
    def api(self) -> str:
        return self.stack.http_url

    def command(
        self, invoice_id: str, action: str = "copy", request_id: str | None = None
    ) -> requests.Response:
        response = send_command(self.api, self.tenant, invoice_id, action, request_id or uuid.uuid4().hex)
        assert response.status_code == 202, response.text
        return response

    def open_invoice(
        self, organization_id: str, lines: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        created = self.onedesk.invoice(organization_id, lines, **fields)
        return self.onedesk.move(created["id"], "Open")


def _world(stack: LocalStack, country: str, tax_label: str, **options: bool) -> World:
    connected = connect_new_tenant(stack, country, tax_label, **options)
    _TENANT_SECRETS.extend([connected.onedesk.api_key, connected.tenant.shared_secret.get_secret_value()])
    return World(stack, connected)


@pytest.fixture
def quiet_webhooks(stack: LocalStack) -> Iterator[None]:
    """QBO sends no webhooks during the test: when QBO requests are counted, sync_payments' reads of the
    invoices a test writes would land in the count."""
    app = f"{stack.components['qbo'].base_url}/_sandbox/app"
    requests.put(app, json={"webhooks_enabled": False}, timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.put(app, json={"webhooks_enabled": True}, timeout=10).raise_for_status()


@pytest.fixture
def us_world(stack: LocalStack) -> World:
    return _world(stack, "US", "California")


@pytest.fixture
def ca_world(stack: LocalStack) -> World:
    return _world(stack, "CA", "GST")


@pytest.fixture
def uk_world(stack: LocalStack) -> World:
    return _world(stack, "GB", "20.0% S")


@pytest.fixture
def ast_world(stack: LocalStack) -> World:
    """A US company with Automated Sales Tax: QBO computes the tax from the addresses."""
    return _world(stack, "US", "Automated Sales Tax", automated_sales_tax=True)


def edit_and_reopen(world: World, invoice_id: str, lines: list[dict[str, Any]]) -> None:
    world.onedesk.move(invoice_id, "Draft")  # OneDesk: Open invoices are edited by moving them back to Draft
    world.onedesk.edit(invoice_id, lines=lines)
    world.onedesk.move(invoice_id, "Open")


def synced(world: World, invoice_id: str, total: str) -> dict[str, Any]:
    """Waits until QBO holds OneDesk's current content for the invoice."""

    def done() -> dict[str, Any] | None:
        record = world.onedesk.record(invoice_id)
        reference = record["externalReferences"].get("qbo")
        if not reference:
            return None
        found = [i for i in world.qbo.entities("Invoice") if i["Id"] == reference["invoiceId"]]
        return found[0] if found and Decimal(str(found[0]["TotalAmt"])) == Decimal(total) else None

    return wait_for(done, what=f"QBO invoice for {invoice_id} totalling {total}")


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
