"""Test helper for the OneDesk sandbox: its control API, raw public calls, and a ready tenant."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from local.onedesk_sandbox import OneDeskSandbox

TIME_LINE = {
    "kind": "time",
    "description": "Fix login page",
    "serviceType": "Support",
    "hours": 1.5,
    "rate": 120,
}

EVERY_LINE_KIND = [
    {"kind": "time", "description": "Fix login page", "serviceType": "Support", "hours": 1.25, "rate": 99.99},
    # 0.5 x 0.25 = 0.125: half-up gives 0.13 where banker's rounding would give 0.12.
    {"kind": "time", "description": "Reset password", "serviceType": "Support", "hours": 0.5, "rate": 0.25},
    {"kind": "custom", "description": "Setup fee", "amount": 50},
    {"kind": "discount", "description": "Loyalty discount", "amount": 10},
    {"kind": "tax", "description": "Sales tax 8.25%", "taxRatePercent": 8.25},
]


@dataclass(frozen=True)
class Tenant:
    account_id: str
    api_key: str
    organization_id: str


class SandboxControl:
    """The sandbox's control API (``/_sandbox``) and raw calls to its public API."""

    def __init__(self, sandbox: OneDeskSandbox) -> None:
        self.base_url = sandbox.base_url
        self.control_url = sandbox.control_url

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = requests.request(method, f"{self.control_url}{path}", json=body, timeout=5)
        assert response.status_code == expect, response.text
        return response.json(parse_float=Decimal)

    def public(self, method: str, path: str, api_key: str | None, body: Any = None) -> requests.Response:
        headers = {"OD-Public-API-Key": api_key} if api_key else {}
        return requests.request(method, f"{self.base_url}{path}", json=body, headers=headers, timeout=5)

    def tenant(
        self, name: str = "Acme Consulting", plan: str = "Premium", customer: str = "Globex"
    ) -> Tenant:
        account = self.call("POST", "/accounts", {"name": name, "plan": plan})
        organization = self.call(
            "POST",
            f"/accounts/{account['accountId']}/organizations",
            {"name": customer, "billingContactName": "Pat Payer", "billingContactEmail": "ap@globex.test"},
        )
        return Tenant(account["accountId"], account["apiKey"], organization["id"])

    def invoice(
        self, tenant: Tenant, lines: list[dict[str, Any]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"organizationId": tenant.organization_id, "lines": [TIME_LINE] if lines is None else lines}
        return self.call("POST", f"/accounts/{tenant.account_id}/invoices", {**body, **fields})

    def move(self, invoice_id: str, *statuses: str) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for status in statuses:
            record = self.call("POST", f"/invoices/{invoice_id}/status", {"status": status})
        return record

    def record(self, invoice_id: str) -> dict[str, Any]:
        return self.call("GET", f"/invoices/{invoice_id}")

    def advance_clock(self, seconds: float) -> None:
        self.call("PUT", "/clock", {"advance_seconds": seconds})

    def requests_log(self) -> list[dict[str, Any]]:
        return self.call("GET", "/requests")["requests"]
