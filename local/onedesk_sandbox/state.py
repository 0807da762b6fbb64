"""The sandbox's in-memory OneDesk: accounts (tenants), customer organizations and invoices.

Everything here produces or consumes the wire shapes of docs/onedesk-contract.md. Nothing is
thread-safe by itself: the server holds ``SandboxState.lock`` around every request.
The sandbox is deliberately independent of ``qbo_sync``: it plays OneDesk, not the product.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from typing import Any

JsonObject = dict[str, Any]

PLANS = ("Starter", "Growth", "Premium", "Enterprise")
LINE_KINDS = ("time", "tax", "discount", "custom")
SYNC_LEVELS = ("info", "warning", "error")
# OneDesk documents Draft -> Open and "Open invoices cannot be edited unless moved back to Draft";
# the later statuses and their moves are our contract.
NEXT_STATUSES: dict[str, frozenset[str]] = {
    "Draft": frozenset({"Open", "Void"}),
    "Open": frozenset({"Draft", "Sent", "PartiallyPaid", "Paid", "Void"}),
    "Sent": frozenset({"Draft", "Open", "PartiallyPaid", "Paid", "Void"}),
    "PartiallyPaid": frozenset({"Open", "Sent", "Paid", "Void"}),
    "Paid": frozenset({"Open", "Sent", "PartiallyPaid"}),
    "Void": frozenset(),
}
# A payment write-back may only report these statuses, and only on an invoice in one of them.
PAYMENT_STATUSES = frozenset({"Open", "Sent", "PartiallyPaid", "Paid"})
FILTER_OPERATIONS = ("GE", "LT")
# Faults use standard statuses only: the error body names its code after the status.
ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if status >= 400)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CENT = Decimal("0.01")
ONE_MILLISECOND = timedelta(milliseconds=1)


class SandboxError(Exception):
    """An API error: its HTTP status names the error code; the message never echoes the API key."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def invalid(message: str) -> SandboxError:
    return SandboxError(400, message)


def not_found(what: str, identifier: str) -> SandboxError:
    return SandboxError(404, f"{what} {identifier} not found")


def round_half_up_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Parsers for Body.required / Body.optional: each turns a non-null JSON value into a Python value.
def as_text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{key} must be a non-empty string")
    return value


def as_number(key: str, value: object) -> Decimal:
    # JSON numbers arrive as Decimal (parse_float=Decimal) or int; strings are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not Decimal(value).is_finite():
        raise invalid(f"{key} must be a JSON number")
    return Decimal(value)


def as_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{key} must be an integer")
    return value


def as_bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{key} must be true or false")
    return value


def as_day(key: str, value: object) -> date:
    try:
        return date.fromisoformat(as_text(key, value))
    except ValueError:
        raise invalid(f"{key} must be a date (YYYY-MM-DD)") from None


def as_instant(key: str, value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(as_text(key, value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid(f"{key} must be an ISO 8601 timestamp with a UTC offset or Z")
    return moment


def as_currency(key: str, value: object) -> str:
    code = as_text(key, value)
    if len(code) != 3 or not code.isascii() or not code.isupper():
        raise invalid(f"{key} must be an ISO 4217 code such as USD")
    return code


def one_of(options: tuple[str, ...] | frozenset[str]) -> Callable[[str, object], str]:
    def parse(key: str, value: object) -> str:
        if value not in options:
            raise invalid(f"{key} must be one of {sorted(options)}")
        return str(value)

    return parse


class Body:
    """One JSON object read field by field; ``finish`` rejects fields nobody read, so drift shows."""

    def __init__(self, raw: object, where: str = "body") -> None:
        if not isinstance(raw, dict):
            raise invalid(f"{where} must be a JSON object")
        self._raw: JsonObject = raw
        self._read: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self._raw

    def optional[T](self, key: str, parse: Callable[[str, object], T]) -> T | None:
        self._read.add(key)
        value = self._raw.get(key)
        return None if value is None else parse(key, value)

    def required[T](self, key: str, parse: Callable[[str, object], T]) -> T:
        value = self.optional(key, parse)
        if value is None:
            raise invalid(f"{key} is required")
        return value

    def objects(self, key: str) -> list[Body]:
        self._read.add(key)
        items = self._raw.get(key)
        if not isinstance(items, list):
            raise invalid(f"{key} must be a list")
        return [Body(item, f"{key}[{index}]") for index, item in enumerate(items)]

    def finish(self) -> None:
        unknown = sorted(set(self._raw) - self._read)
        if unknown:
            raise invalid(f"unknown field(s): {', '.join(unknown)}")


@dataclass
class Account:
    id: str
    name: str
    plan: str
    api_key: str
    invoice_numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Organization:
    id: str
    account_id: str
    name: str
    billing_contact_name: str | None
    billing_contact_email: str | None

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "name": self.name,
            "billingContact": {"name": self.billing_contact_name, "email": self.billing_contact_email},
        }


@dataclass
class Invoice:
    id: str
    account_id: str
    organization: Organization
    number: str
    currency: str
    issue_date: date
    due_date: date | None
    lines: list[JsonObject]
    creation_time: datetime
    modified_time: datetime
    status: str = "Draft"
    amount_paid: Decimal = Decimal("0.00")
    written_balance: Decimal | None = None  # None until a payment state is written: balance = total
    last_payment_date: date | None = None
    tags: list[JsonObject] = field(default_factory=list)
    sync_message: JsonObject | None = None
    qbo_reference: JsonObject | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line["amount"] for line in self.lines if line["kind"] != "tax"), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return sum((line["amount"] for line in self.lines), Decimal("0.00"))

    def to_json(self) -> JsonObject:
        balance = self.total - self.amount_paid if self.written_balance is None else self.written_balance
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status,
            "currency": self.currency,
            "issueDate": self.issue_date.isoformat(),
            "dueDate": self.due_date.isoformat() if self.due_date else None,
            "organization": self.organization.to_json(),
            "lines": self.lines,
            "subtotal": self.subtotal,
            "total": self.total,
            "amountPaid": self.amount_paid,
            "balance": balance,
            "lastPaymentDate": self.last_payment_date.isoformat() if self.last_payment_date else None,
            "tags": self.tags,
            "syncMessage": self.sync_message,
            "externalReferences": {"qbo": self.qbo_reference} if self.qbo_reference else {},
            "creationTime": format_instant(self.creation_time),
            "modifiedTime": format_instant(self.modified_time),
        }


class SandboxState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> JsonObject:
        self._ids = itertools.count(1001)
        self._clock_offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self._accounts: dict[str, Account] = {}
        self._organizations: dict[str, Organization] = {}
        self._invoices: dict[str, Invoice] = {}
        self._request_log: list[JsonObject] = []
        self._fault_status = 0
        self._faults_left = 0
        return {"reset": True}

    def _new_id(self) -> str:
        return str(next(self._ids))

    # --- clock -------------------------------------------------------------------------------
    def now(self) -> datetime:
        """Emulator time: UTC, millisecond precision, shifted by ``advance_seconds`` and freezable."""
        moment = (self._frozen_at or datetime.now(UTC)) + self._clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def set_clock(self, body: Body) -> JsonObject:
        advance = body.optional("advance_seconds", as_number)
        frozen = body.optional("frozen", as_bool)
        body.finish()
        if advance is not None and advance < 0:
            raise invalid("advance_seconds cannot be negative: the clock only moves forward")
        if advance is not None:
            self._clock_offset += timedelta(seconds=float(advance))
        if frozen is not None:
            # Keep the current emulator time when switching, so time never jumps.
            current = self.now()
            self._frozen_at = datetime.now(UTC) if frozen else None
            self._clock_offset = current - (self._frozen_at or datetime.now(UTC))
        return {"now": format_instant(self.now()), "frozen": self._frozen_at is not None}

    def _touch(self, invoice: Invoice) -> None:
        # Strictly increasing per invoice, so two quick writes never share a modifiedTime.
        invoice.modified_time = max(self.now(), invoice.modified_time + ONE_MILLISECOND)

    # --- faults and the request log ----------------------------------------------------------
    def set_fault(self, body: Body) -> JsonObject:
        status = body.required("status", as_int)
        count = body.required("count", as_int)
        body.finish()
        if status not in ERROR_STATUSES or count < 0:
            raise invalid("status must be a standard HTTP error status (4xx or 5xx) and count >= 0")
        self._fault_status, self._faults_left = status, count
        return {"status": status, "count": count}

    def take_fault(self) -> int | None:
        """The status the next public request must fail with, if a fault is still pending."""
        if self._faults_left == 0:
            return None
        self._faults_left -= 1
        return self._fault_status

    def log_request(self, method: str, path: str, account_id: str | None, status: int) -> None:
        self._request_log.append(
            {
                "method": method,
                "path": path,
                "accountId": account_id,
                "status": status,
                "time": format_instant(self.now()),
            }
        )

    def requests(self) -> JsonObject:
        return {"requests": self._request_log}

    # --- control API: accounts, organizations, invoices --------------------------------------
    def create_account(self, body: Body) -> JsonObject:
        name = body.required("name", as_text)
        plan = body.required("plan", one_of(PLANS))
        body.finish()
        account = Account(self._new_id(), name, plan, api_key=f"odk_{secrets.token_hex(16)}")
        self._accounts[account.id] = account
        return {"accountId": account.id, "apiKey": account.api_key, "name": name, "plan": plan}

    def change_plan(self, account_id: str, body: Body) -> JsonObject:
        """An upgrade or a downgrade of the account's subscription."""
        account = self._account(account_id)
        account.plan = body.required("plan", one_of(PLANS))
        body.finish()
        return self.profile(account)

    def _account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise not_found("Account", account_id)
        return account

    def create_organization(self, account_id: str, body: Body) -> JsonObject:
        account = self._account(account_id)
        organization = Organization(
            self._new_id(),
            account.id,
            body.required("name", as_text),
            body.optional("billingContactName", as_text),
            body.optional("billingContactEmail", as_text),
        )
        body.finish()
        self._organizations[organization.id] = organization
        return organization.to_json()

    def update_organization(self, organization_id: str, body: Body) -> JsonObject:
        organization = self._organizations.get(organization_id)
        if organization is None:
            raise not_found("Organization", organization_id)
        # PATCH: a field that is present replaces the value (null clears a billing contact field).
        # Everything is validated before anything changes, so a rejected PATCH changes nothing.
        changes: JsonObject = {}
        if body.has("name"):
            changes["name"] = body.required("name", as_text)
        if body.has("billingContactName"):
            changes["billing_contact_name"] = body.optional("billingContactName", as_text)
        if body.has("billingContactEmail"):
            changes["billing_contact_email"] = body.optional("billingContactEmail", as_text)
        body.finish()
        for name, value in changes.items():
            setattr(organization, name, value)
        return organization.to_json()

    def create_invoice(self, account_id: str, body: Body) -> JsonObject:
        account = self._account(account_id)
        organization = self._organization_in(account, body.required("organizationId", as_text))
        number = body.optional("number", as_text)
        self._check_number_free(account, number)
        now = self.now()
        invoice = Invoice(
            id=self._new_id(),
            account_id=account.id,
            organization=organization,
            number=number or self._next_invoice_number(account),
            currency=body.optional("currency", as_currency) or "USD",
            issue_date=body.optional("issueDate", as_day) or now.date(),
            due_date=body.optional("dueDate", as_day),
            lines=self._priced_lines(body.objects("lines")) if body.has("lines") else [],
            creation_time=now,
            modified_time=now,
        )
        body.finish()
        self._invoices[invoice.id] = invoice
        return self.invoice_record(invoice.id)

    def update_invoice(self, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice(invoice_id)
        if invoice.status != "Draft":
            raise SandboxError(
                409, f"Invoice {invoice.number} is {invoice.status}: move it back to Draft to edit it"
            )
        account = self._accounts[invoice.account_id]
        changes: JsonObject = {}  # validated in full before anything changes, as for organizations
        if body.has("organizationId"):
            changes["organization"] = self._organization_in(account, body.required("organizationId", as_text))
        if body.has("number"):
            number = body.required("number", as_text)
            if number != invoice.number:
                self._check_number_free(account, number)
            changes["number"] = number
        if body.has("currency"):
            changes["currency"] = body.required("currency", as_currency)
        if body.has("issueDate"):
            changes["issue_date"] = body.required("issueDate", as_day)
        if body.has("dueDate"):
            changes["due_date"] = body.optional("dueDate", as_day)
        if body.has("lines"):
            changes["lines"] = self._priced_lines(body.objects("lines"))
        body.finish()
        for name, value in changes.items():
            setattr(invoice, name, value)
        self._touch(invoice)
        return self.invoice_record(invoice.id)

    def change_status(self, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice(invoice_id)
        status = body.required("status", one_of(tuple(NEXT_STATUSES)))
        body.finish()
        if status not in NEXT_STATUSES[invoice.status]:
            raise SandboxError(409, f"Invoice {invoice.number} cannot go from {invoice.status} to {status}")
        invoice.status = status
        self._touch(invoice)
        return self.invoice_record(invoice.id)

    def invoice_record(self, invoice_id: str) -> JsonObject:
        invoice = self._invoice(invoice_id)
        return {**invoice.to_json(), "accountId": invoice.account_id}

    def delete_invoice(self, invoice_id: str) -> JsonObject:
        """A user deletes the invoice in OneDesk: from now on the public API answers 404 for it."""
        invoice = self._invoice(invoice_id)
        del self._invoices[invoice.id]
        return {"deleted": invoice.id}

    def _invoice(self, invoice_id: str) -> Invoice:
        invoice = self._invoices.get(invoice_id)
        if invoice is None:
            raise not_found("Invoice", invoice_id)
        return invoice

    def _organization_in(self, account: Account, organization_id: str) -> Organization:
        organization = self._organizations.get(organization_id)
        if organization is None or organization.account_id != account.id:
            raise invalid(f"organizationId {organization_id} is not an organization of this account")
        return organization

    def _numbers_in(self, account: Account) -> set[str]:
        return {invoice.number for invoice in self._invoices.values() if invoice.account_id == account.id}

    def _check_number_free(self, account: Account, number: str | None) -> None:
        if number is not None and number in self._numbers_in(account):
            raise SandboxError(409, f"Invoice number {number} is already used")

    def _next_invoice_number(self, account: Account) -> str:
        taken = self._numbers_in(account)
        return next(number for n in account.invoice_numbers if (number := f"INV-{n:04d}") not in taken)

    def _priced_lines(self, line_bodies: list[Body]) -> list[JsonObject]:
        lines = [self._priced_line(body) for body in line_bodies]
        # Tax applies to everything else on the invoice: time and custom lines net of discounts.
        taxable = sum((line["amount"] for line in lines if line["kind"] != "tax"), Decimal("0.00"))
        for line in lines:
            if line["taxRatePercent"] is not None:
                line["amount"] = round_half_up_cents(taxable * line["taxRatePercent"] / 100)
        return lines

    def _priced_line(self, body: Body) -> JsonObject:
        kind = body.required("kind", one_of(LINE_KINDS))
        line: JsonObject = {
            "id": self._new_id(),
            "kind": kind,
            "description": body.required("description", as_text),
            "serviceType": body.optional("serviceType", as_text),
            "hours": body.optional("hours", as_number),
            "rate": body.optional("rate", as_number),
            "amount": body.optional("amount", as_number),
            "taxRatePercent": body.optional("taxRatePercent", as_number),
        }
        body.finish()
        hours, rate, amount = line["hours"], line["rate"], line["amount"]
        if kind == "time" and (line["serviceType"] is None or hours is None or rate is None):
            raise invalid("a time line needs serviceType, hours and rate")
        if line["taxRatePercent"] is not None and kind != "tax":
            raise invalid("only a tax line can have taxRatePercent")
        if kind == "tax" and (line["taxRatePercent"] is None) == (amount is None):
            raise invalid("a tax line needs exactly one of taxRatePercent and amount")
        if amount is None and hours is not None and rate is not None:
            # An explicit amount wins, e.g. a monthly-minimum rate where amount != hours x rate.
            amount = hours * rate
        if amount is None and kind != "tax":
            raise invalid(f"a {kind} line needs an amount (or hours and rate)")
        if amount is not None:
            line["amount"] = round_half_up_cents(-abs(amount) if kind == "discount" else amount)
        return line

    # --- public API (already authenticated) --------------------------------------------------
    def authenticate(self, api_key: str | None) -> Account:
        account = next((a for a in self._accounts.values() if api_key and a.api_key == api_key), None)
        if account is None:
            raise SandboxError(401, "Missing or invalid OD-Public-API-Key")
        return account

    @staticmethod
    def profile(account: Account) -> JsonObject:
        return {"accountId": account.id, "name": account.name, "plan": account.plan}

    def filter_invoices(self, account: Account, body: Body) -> JsonObject:
        conditions = []
        for condition in body.objects("properties"):
            prop = condition.required("property", one_of(("modifiedTime", "creationTime")))
            operation = condition.required("operation", one_of(FILTER_OPERATIONS))
            value = condition.required("value", as_instant)
            condition.finish()
            conditions.append((prop, operation, value))
        ascending = body.optional("isAsc", as_bool)
        limit = body.optional("limit", as_int)
        limit = DEFAULT_PAGE_SIZE if limit is None else limit
        offset = body.optional("offset", as_int) or 0
        body.finish()
        if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
            raise invalid(f"limit must be 1..{MAX_PAGE_SIZE} and offset >= 0")

        def matches(invoice: Invoice) -> bool:
            for prop, operation, value in conditions:
                moment = invoice.modified_time if prop == "modifiedTime" else invoice.creation_time
                if not (moment >= value if operation == "GE" else moment < value):
                    return False
            return True

        found = sorted(
            (i for i in self._invoices.values() if i.account_id == account.id and matches(i)),
            key=lambda i: (i.modified_time, int(i.id)),
            reverse=ascending is False,
        )
        return {"items": [i.to_json() for i in found[offset : offset + limit]], "total": len(found)}

    def get_invoice(self, account: Account, invoice_id: str) -> JsonObject:
        return self._invoice_of(account, invoice_id).to_json()

    def _invoice_of(self, account: Account, invoice_id: str) -> Invoice:
        invoice = self._invoices.get(invoice_id)
        if invoice is None or invoice.account_id != account.id:  # another tenant's invoice does not exist
            raise not_found("Invoice", invoice_id)
        return invoice

    def set_qbo_reference(self, account: Account, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice_of(account, invoice_id)
        reference = {
            "realmId": body.required("realmId", as_text),
            "invoiceId": body.required("invoiceId", as_text),
            "docNumber": body.optional("docNumber", as_text),
            "copiedAt": format_instant(body.required("copiedAt", as_instant)),
        }
        body.finish()
        invoice.qbo_reference = reference
        self._touch(invoice)
        return invoice.to_json()

    def put_tag(self, account: Account, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice_of(account, invoice_id)
        tag = {
            "name": body.required("name", as_text),
            "at": format_instant(body.required("at", as_instant)),
            "detail": body.optional("detail", as_text),
        }
        body.finish()
        # Tags are keyed by name, so posting the same tag again (a retry) replaces it.
        invoice.tags = [existing for existing in invoice.tags if existing["name"] != tag["name"]] + [tag]
        self._touch(invoice)
        return invoice.to_json()

    def set_sync_message(self, account: Account, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice_of(account, invoice_id)
        message = {
            "level": body.required("level", one_of(SYNC_LEVELS)),
            "text": body.required("text", as_text),
            "at": format_instant(body.required("at", as_instant)),
        }
        body.finish()
        invoice.sync_message = message
        self._touch(invoice)
        return invoice.to_json()

    def set_payment_state(self, account: Account, invoice_id: str, body: Body) -> JsonObject:
        invoice = self._invoice_of(account, invoice_id)
        amount_paid = body.required("amountPaid", as_number)
        balance = body.required("balance", as_number)
        status = body.required("status", one_of(PAYMENT_STATUSES))
        last_payment_date = body.optional("lastPaymentDate", as_day)
        body.finish()
        if amount_paid < 0 or balance < 0:
            raise invalid("amountPaid and balance cannot be negative")
        if invoice.status not in PAYMENT_STATUSES:
            raise SandboxError(
                409, f"Invoice {invoice.number} is {invoice.status}: payments cannot be recorded"
            )
        invoice.amount_paid = round_half_up_cents(amount_paid)
        invoice.written_balance = round_half_up_cents(balance)
        invoice.status = status
        invoice.last_payment_date = last_payment_date
        self._touch(invoice)
        return invoice.to_json()
