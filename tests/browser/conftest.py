"""The whole local stack for a real browser (``local.stack.product_stack``: moto provisioned from
template.yaml, the Lambda runner serving the HTTP API and consuming the queues, the QBO and OneDesk
emulators) and Debian's chromium driven by Playwright (never ``playwright install``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from local.onedesk_sandbox import OneDeskSandbox
from local.qbo_sandbox import QboSandbox
from local.stack import LocalStack, product_stack
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.store.tenants import DynamoTenantStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Stack:
    """The running stack as these tests see it (its table is read directly, not via this process's env)."""

    running: LocalStack

    @property
    def url(self) -> str:
        return self.running.http_url

    @property
    def qbo(self) -> QboSandbox:
        component = self.running.components["qbo"]
        assert isinstance(component, QboSandbox)
        return component

    @property
    def onedesk(self) -> OneDeskSandbox:
        component = self.running.components["onedesk"]
        assert isinstance(component, OneDeskSandbox)
        return component

    def tenant_store(self) -> DynamoTenantStore:
        provisioned = self.running.provisioned
        resource = boto3.session.Session().resource(
            "dynamodb",
            endpoint_url=provisioned.endpoint_url,
            region_name=provisioned.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        sealer = KmsSealer(provisioned.ref("DataKey"), provisioned.client("kms"))
        return DynamoTenantStore(resource.Table(provisioned.ref("AppTable")), sealer)

    def scan(self) -> list[dict[str, Any]]:
        client = self.running.provisioned.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.running.provisioned.ref("AppTable")}
        while True:
            page = client.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Stack]:
    with product_stack(schedule_speed=None, log_dir=ARTIFACTS / "logs" / "browser") as running:
        yield Stack(running)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does, as root)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Callable[[Page, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
