"""OneDesk public API client: ``OneDeskPort`` over ``requests``, per docs/onedesk-contract.md.

This module is the only code that knows OneDesk's wire format: the private ``_Wire*`` models read it
and map it to the domain, and the write methods build its request bodies. Plugging in OneDesk's real
schema changes only this folder.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import requests
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from qbo_sync.domain.onedesk import (
    COPIED_TO_QBO_TAG,
    AccountProfile,
    BillingContact,
    CustomerOrganization,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    PaymentState,
    Plan,
    QboReference,
    SyncMessage,
    Tag,
)
from qbo_sync.ports.onedesk import (
    OneDeskAuthError,
    OneDeskError,
    OneDeskNotFound,
    OneDeskPort,
    OneDeskUnavailable,
)

API_KEY_HEADER = "OD-Public-API-Key"
MAX_ATTEMPTS = 3
PAGE_SIZE = 100  # the contract's maximum filter page

JsonObject = dict[str, object]


class _Wire(BaseModel):
    # A tolerant reader: camelCase names, and fields OneDesk adds later are ignored.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class _WireProfile(_Wire):
    account_id: str
    name: str
    plan: Plan

    def to_domain(self) -> AccountProfile:
        return AccountProfile(account_id=self.account_id, name=self.name, plan=self.plan)


class _WireBillingContact(_Wire):
    name: str | None = None
    email: str | None = None


class _WireOrganization(_Wire):
    id: str
    name: str
    billing_contact: _WireBillingContact = Field(default_factory=_WireBillingContact)

    def to_domain(self) -> CustomerOrganization:
        contact = BillingContact(name=self.billing_contact.name, email=self.billing_contact.email)
        return CustomerOrganization(id=self.id, name=self.name, billing_contact=contact)


class _WireLine(_Wire):
    id: str
    kind: LineKind
    description: str
    service_type: str | None = None
    hours: Decimal | None = None
    rate: Decimal | None = None
    amount: Decimal
    tax_rate_percent: Decimal | None = None

    def to_domain(self) -> InvoiceLine:
        return InvoiceLine(
            id=self.id,
            kind=self.kind,
            description=self.description,
            service_type=self.service_type,
            hours=self.hours,
            rate=self.rate,
            amount=self.amount,
            tax_rate_percent=self.tax_rate_percent,
        )


class _WireTag(_Wire):
    name: str
    at: AwareDatetime
    detail: str | None = None

    def to_domain(self) -> Tag:
        return Tag(name=self.name, at=self.at, detail=self.detail)


class _WireSyncMessage(_Wire):
    level: Literal["info", "warning", "error"]
    text: str
    at: AwareDatetime

    def to_domain(self) -> SyncMessage:
        return SyncMessage(level=self.level, text=self.text, at=self.at)


class _WireQboReference(_Wire):
    realm_id: str
    invoice_id: str
    doc_number: str | None = None
    copied_at: AwareDatetime

    def to_domain(self) -> QboReference:
        return QboReference(
            realm_id=self.realm_id,
            qbo_invoice_id=self.invoice_id,
            qbo_doc_number=self.doc_number,
            copied_at=self.copied_at,
        )


class _WireExternalReferences(_Wire):
    qbo: _WireQboReference | None = None


class _WireInvoice(_Wire):
    id: str
    number: str
    status: InvoiceStatus
    currency: str
    issue_date: date
    due_date: date | None = None
    organization: _WireOrganization
    lines: list[_WireLine]
    subtotal: Decimal
    total: Decimal
    amount_paid: Decimal
    balance: Decimal
    last_payment_date: date | None = None
    tags: list[_WireTag] = []
    sync_message: _WireSyncMessage | None = None
    external_references: _WireExternalReferences = Field(default_factory=_WireExternalReferences)
    modified_time: AwareDatetime

    def to_domain(self) -> Invoice:
        qbo = self.external_references.qbo
        return Invoice(
            id=self.id,
            number=self.number,
            status=self.status,
            organization=self.organization.to_domain(),
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.currency,
            lines=tuple(line.to_domain() for line in self.lines),
            subtotal=self.subtotal,
            total=self.total,
            amount_paid=self.amount_paid,
            balance=self.balance,
            modified_at=self.modified_time,
            tags=tuple(tag.to_domain() for tag in self.tags),
            qbo_reference=qbo.to_domain() if qbo else None,
            sync_message=self.sync_message.to_domain() if self.sync_message else None,
            last_payment_date=self.last_payment_date,
        )


class _WireInvoicePage(_Wire):
    items: list[_WireInvoice]


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn a response we cannot map (wire or domain validation) into a permanent ``OneDeskError``."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OneDeskError(
            f"OneDesk returned a {what} this client cannot read ({exc.error_count()} problem(s); "
            f"first at {where or 'top level'}: {first['msg']})"
        ) from None


def _wire_instant(moment: datetime) -> str:
    # Millisecond precision, truncated: a GE filter on a truncated time can only include more.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_text(value: object) -> str:
    """JSON with every Decimal written as an exact number; ``json.dumps`` would need a float."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(key))}:{_json_text(item)}" for key, item in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return json.dumps(value)


class OneDeskClient(OneDeskPort):
    """One tenant's OneDesk account, reached with that account's API key.

    Every call is safe to repeat (reads, and writes that set absolute values), so each one is retried
    up to ``MAX_ATTEMPTS`` times with exponential backoff and jitter on HTTP 408/429/5xx, timeouts and
    connection errors. The key travels only in the ``OD-Public-API-Key`` header of each request (never on
    the shared session) and is redacted from every error message. It subclasses the port so that mypy
    checks each method against it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        session: requests.Session,
        timeout_seconds: float,
        *,
        backoff_seconds: float = 0.5,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._session = session
        self._timeout_seconds = timeout_seconds
        self._backoff_seconds = backoff_seconds
        self._page_size = page_size

    # --- OneDeskPort -------------------------------------------------------------------------
    def get_account_profile(self) -> AccountProfile:
        data = self._request("GET", "organization/profileAndPolicy")
        with _reading("profile"):
            return _WireProfile.model_validate(data).to_domain()

    def list_invoices_modified_since(self, since: datetime) -> list[Invoice]:
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        newest_by_id: dict[str, Invoice] = {}
        cursor, offset = since, 0
        while True:
            page = self._invoices_modified_since(cursor, offset)
            for invoice in page:
                known = newest_by_id.get(invoice.id)
                if known is None or invoice.modified_at >= known.modified_at:
                    newest_by_id[invoice.id] = invoice
            if len(page) < self._page_size:
                return sorted(newest_by_id.values(), key=lambda invoice: (invoice.modified_at, invoice.id))
            # Keyset paging: restart from the newest time seen rather than from an offset, so an invoice
            # modified meanwhile (it moves to the end) cannot shift an unseen one past us. The overlap is
            # de-duplicated above; only a full page of one identical time needs the offset to move on.
            newest = page[-1].modified_at
            cursor, offset = (newest, 0) if newest > cursor else (cursor, offset + self._page_size)

    def get_invoice(self, invoice_id: str) -> Invoice:
        data = self._request("GET", self._invoice_path(invoice_id))
        with _reading("invoice"):
            return _WireInvoice.model_validate(data).to_domain()

    def set_qbo_reference(self, invoice_id: str, reference: QboReference) -> None:
        body: JsonObject = {
            "realmId": reference.realm_id,
            "invoiceId": reference.qbo_invoice_id,
            "docNumber": reference.qbo_doc_number,
            "copiedAt": _wire_instant(reference.copied_at),
        }
        self._request("PUT", f"{self._invoice_path(invoice_id)}/externalReferences/qbo", body)
        # Our contract keeps the reference and the tag apart; the port promises both (P7).
        shown_as = reference.qbo_doc_number or reference.qbo_invoice_id
        self.add_tag(
            invoice_id, Tag(name=COPIED_TO_QBO_TAG, at=reference.copied_at, detail=f"QBO invoice {shown_as}")
        )

    def add_tag(self, invoice_id: str, tag: Tag) -> None:
        body: JsonObject = {"name": tag.name, "at": _wire_instant(tag.at), "detail": tag.detail}
        self._request("POST", f"{self._invoice_path(invoice_id)}/tags", body)

    def set_sync_message(self, invoice_id: str, message: SyncMessage) -> None:
        body: JsonObject = {"level": message.level, "text": message.text, "at": _wire_instant(message.at)}
        self._request("PUT", f"{self._invoice_path(invoice_id)}/syncMessage", body)

    def set_payment_state(self, invoice_id: str, state: PaymentState) -> None:
        last_payment = state.last_payment_date
        body: JsonObject = {
            "amountPaid": state.amount_paid,
            "balance": state.balance,
            "status": state.status.value,
            "lastPaymentDate": last_payment.isoformat() if last_payment else None,
        }
        self._request("PUT", f"{self._invoice_path(invoice_id)}/paymentState", body)

    # --- wire --------------------------------------------------------------------------------
    @staticmethod
    def _invoice_path(invoice_id: str) -> str:
        return f"invoices/{quote(invoice_id, safe='')}"

    def _invoices_modified_since(self, cursor: datetime, offset: int) -> list[Invoice]:
        body: JsonObject = {
            "properties": [{"property": "modifiedTime", "operation": "GE", "value": _wire_instant(cursor)}],
            "isAsc": True,
            "limit": self._page_size,
            "offset": offset,
        }
        data = self._request("POST", "invoices/filter/details", body)
        with _reading("invoice page"):
            return [item.to_domain() for item in _WireInvoicePage.model_validate(data).items]

    def _request(self, method: str, path: str, body: JsonObject | None = None) -> Any:
        """The ``data`` of a successful response; transient failures are retried, others raised."""
        headers = {API_KEY_HEADER: self._api_key.get_secret_value(), "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        payload = None if body is None else _json_text(body).encode()
        attempt = 1
        while True:
            cause: requests.RequestException | None = None
            try:
                response = self._session.request(
                    method,
                    f"{self._base_url}/{path}",
                    data=payload,
                    headers=headers,
                    timeout=self._timeout_seconds,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                cause = exc
                failure: OneDeskError = OneDeskUnavailable(f"OneDesk {method} {path}: {type(exc).__name__}")
            else:
                if response.ok:
                    return self._data(response, method, path)
                failure = self._failure(response, method, path)
            if not isinstance(failure, OneDeskUnavailable) or attempt == MAX_ATTEMPTS:
                raise failure from cause
            time.sleep(self._backoff_delay(attempt))
            attempt += 1

    def _backoff_delay(self, attempt: int) -> float:
        step = self._backoff_seconds * 2.0 ** (attempt - 1)
        return step + random.uniform(0, step)  # noqa: S311 - jitter spreads retries, it guards nothing

    def _data(self, response: requests.Response, method: str, path: str) -> Any:
        try:
            # Money stays exact: JSON numbers with a fraction become Decimal, never float.
            envelope = response.json(parse_float=Decimal)
        except ValueError:
            raise OneDeskError(f"OneDesk {method} {path} answered with a body that is not JSON") from None
        if not isinstance(envelope, dict) or envelope.get("code") != "SUCCESS" or "data" not in envelope:
            raise OneDeskError(f"OneDesk {method} {path} answered without a SUCCESS envelope")
        return envelope["data"]

    def _failure(self, response: requests.Response, method: str, path: str) -> OneDeskError:
        status = response.status_code
        message = f"OneDesk {method} {path} answered HTTP {status}: {self._server_message(response)}"
        if status in (401, 403):
            return OneDeskAuthError(message)
        if status == 404:
            return OneDeskNotFound(message)
        if status in (408, 429) or status >= 500:
            return OneDeskUnavailable(message)
        return OneDeskError(message)

    def _server_message(self, response: requests.Response) -> str:
        try:
            error = response.json()
            text = f"{error['code']}: {error['message']}"
        except (ValueError, TypeError, KeyError):
            text = response.text
        key = self._api_key.get_secret_value()
        # A server may echo what it was sent; the key must never reach a log line or an audit record.
        return (text.replace(key, "[redacted]") if key else text)[:300]
