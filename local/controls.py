"""Thin clients for the emulators' control APIs (`/_sandbox`), as the demo and the e2e tests use them:
set up OneDesk accounts and invoices, act in QBO as a bookkeeper, read what each side now holds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

_TIMEOUT = 10


def _json(response: requests.Response) -> Any:
    if response.status_code >= 400:
        request = f"{response.request.method} {response.url}"
        raise AssertionError(f"{request}: {response.status_code} {response.text}")
    return response.json(parse_float=Decimal)


def wait_for[T](condition: Callable[[], T], timeout: float = 60.0, what: str = "condition") -> T:
    """Polls ``condition`` until it returns something truthy (the pipelines are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class QboControl:
    """The QBO emulator, for one realm."""

    base_url: str
    realm_id: str

    @classmethod
    def new_company(cls, base_url: str, name: str, country: str, **options: Any) -> QboControl:
        """A new company (``country`` US, CA or GB; options such as ``automated_sales_tax=True``)."""
        body = {"name": name, "country": country, **options}
        realm = _json(requests.post(f"{base_url}/_sandbox/companies", json=body, timeout=_TIMEOUT))["realmId"]
        return cls(base_url, str(realm))

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return _json(requests.request(method, f"{self.base_url}/_sandbox{path}", json=body, timeout=_TIMEOUT))

    def entities(self, entity: str) -> list[dict[str, Any]]:
        return list(self.control("GET", f"/entities/{self.realm_id}/{entity}"))

    def entity(self, entity: str, entity_id: str) -> dict[str, Any]:
        (found,) = [e for e in self.entities(entity) if e["Id"] == entity_id]
        return found

    def named(self, entity: str, field_name: str, value: str) -> list[dict[str, Any]]:
        return [e for e in self.entities(entity) if e.get(field_name) == value]

    def last_seq(self) -> int:
        return max((entry["seq"] for entry in self.control("GET", "/requests")), default=0)

    def requests_log(self, since_seq: int = 0) -> list[dict[str, Any]]:
        """The emulator's request log for this realm after ``since_seq``."""
        log = self.control("GET", f"/requests?realmId={self.realm_id}&since_seq={since_seq}")
        return [entry for entry in log if entry.get("realmId") == self.realm_id and entry["seq"] > since_seq]

    def data_requests(self, since_seq: int) -> list[dict[str, Any]]:
        """Data API requests for this realm after ``since_seq`` (OAuth calls excluded)."""
        return [entry for entry in self.requests_log(since_seq) if "/v3/company/" in entry["path"]]

    def sends(self) -> list[dict[str, Any]]:
        return list(self.control("GET", f"/sends?realmId={self.realm_id}"))

    def data(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        """Act in QBO as a bookkeeper would: its data API, with a token of its own."""
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
            timeout=_TIMEOUT,
        )
        return _json(response)


@dataclass
class OneDeskControl:
    """The OneDesk emulator, for one account."""

    control_url: str
    account_id: str
    api_key: str

    @classmethod
    def new_account(cls, control_url: str, name: str, plan: str = "Premium") -> OneDeskControl:
        body = {"name": name, "plan": plan}
        account = _json(requests.post(f"{control_url}/accounts", json=body, timeout=_TIMEOUT))
        return cls(control_url, str(account["accountId"]), str(account["apiKey"]))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return _json(requests.request(method, f"{self.control_url}{path}", json=body, timeout=_TIMEOUT))

    def set_plan(self, plan: str) -> None:
        """The account is upgraded or downgraded (Starter, Growth, Premium, Enterprise)."""
        self.call("PUT", f"/accounts/{self.account_id}/plan", {"plan": plan})

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

    def delete(self, invoice_id: str) -> None:
        self.call("DELETE", f"/invoices/{invoice_id}")

    def requests_log(self) -> list[dict[str, Any]]:
        """Every public API call this account made, oldest first."""
        entries = self.call("GET", "/requests")["requests"]
        return [entry for entry in entries if entry["accountId"] == self.account_id]
