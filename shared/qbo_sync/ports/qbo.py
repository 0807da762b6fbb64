"""What use cases may ask of QuickBooks Online for one realm, and the errors it can answer with.

Queries are expressed as ``Condition`` values, never as text: only the adapter writes QBO query
language, so no caller can concatenate user input into a query. Every write takes a ``request_id``
(QBO's idempotency key, qbo-facts §7); every result carries ``intuit_tid`` for the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol

from qbo_sync.domain.qbo import (
    CompanyInfo,
    CreditMemo,
    DeletedStub,
    Entity,
    Invoice,
    Payment,
    Preferences,
)

type QueryValue = str | bool | int | Decimal | date | datetime
type Operator = Literal["=", "IN", "LIKE", "<", ">", "<=", ">="]

# Plain or dotted property names (``DisplayName``, ``MetaData.LastUpdatedTime``): field names are
# written into the query verbatim, so they are checked here rather than escaped.
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*")


@dataclass(frozen=True)
class Condition:
    """``field op value`` of a QBO ``WHERE`` clause; ``values`` has one item except for ``IN``."""

    field: str
    op: Operator
    values: tuple[QueryValue, ...]

    def __post_init__(self) -> None:
        if not _FIELD_NAME.fullmatch(self.field):
            raise ValueError(f"not a QBO property name: {self.field!r}")
        if self.op == "IN" and not self.values:
            raise ValueError("IN needs at least one value")
        if self.op != "IN" and len(self.values) != 1:
            raise ValueError(f"{self.op} takes exactly one value")
        if self.op == "LIKE" and not isinstance(self.values[0], str):
            raise ValueError("LIKE takes a string pattern")


def eq(field: str, value: QueryValue) -> Condition:
    return Condition(field, "=", (value,))


def in_(field: str, values: Sequence[QueryValue]) -> Condition:
    return Condition(field, "IN", tuple(values))


def like(field: str, pattern: str) -> Condition:
    """``%`` is the only wildcard QBO knows (qbo-facts §4)."""
    return Condition(field, "LIKE", (pattern,))


@dataclass(frozen=True)
class QboResult[T]:
    entity: T
    intuit_tid: str | None = None
    request_id: str | None = None


class QboError(Exception):
    """A QBO fault. ``str(e)`` is a one-line summary; it never contains tokens, headers or bodies."""

    def __init__(
        self,
        *,
        status: int | None,
        code: str | None,
        message: str,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.intuit_tid = intuit_tid
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [f"QBO {self.code or self.status or 'error'}: {self.message}"]
        if self.detail:
            parts.append(self.detail)
        if self.element:
            parts.append(f"element={self.element}")
        return " | ".join(parts)


class QboStaleObject(QboError):
    """5010: the SyncToken was stale; re-read, re-apply, retry."""


class QboDuplicateName(QboError):
    """6240: the name is taken (by a customer, vendor or employee; possibly inactive)."""


class QboNotFound(QboError):
    """610 / Object Not Found: unknown, deleted, or an inactive referenced name-list object."""


class QboValidationError(QboError):
    """Any other 4xx fault (2020, 2050, 6000, 4000, ...): QBO's message says what to fix."""


class QboThrottled(QboError):
    """429 (or no request budget) after every retry.

    ``retry_after_seconds`` hints when the budget that stopped the call should be back (our limiter
    knows it for the per-minute rate); None when nobody knows (e.g. every request slot is busy).
    """

    def __init__(
        self,
        *,
        status: int | None,
        code: str | None,
        message: str,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            status=status, code=code, message=message, detail=detail, element=element, intuit_tid=intuit_tid
        )


class QboAuthError(QboError):
    """401 even after one forced token refresh, or 403/3100 (wrong environment or app not authorised)."""


class QboTransient(QboError):
    """5xx or timeouts after every retry; safe to retry later with the same request id."""


@dataclass(frozen=True)
class BatchOutcome:
    """One item of a batch: exactly one of ``entity`` and ``error`` is set."""

    entity: Entity | None
    error: QboError | None


@dataclass(frozen=True)
class CdcChanges:
    """Changed and deleted objects; ``time`` is QBO's response time, the next watermark."""

    invoices: list[Invoice | DeletedStub]
    payments: list[Payment | DeletedStub]
    credit_memos: list[CreditMemo | DeletedStub]
    time: str


class QboPort(Protocol):
    @property
    def realm_id(self) -> str: ...

    def query[E: Entity](
        self, entity: type[E], where: Sequence[Condition] = (), *, include_inactive: bool = False
    ) -> QboResult[list[E]]:
        """Every match (pages through all results). ``include_inactive`` is for name-list entities."""
        ...

    def read[E: Entity](self, entity: type[E], entity_id: str) -> QboResult[E]: ...

    def create[E: Entity](self, entity: E, *, request_id: str) -> QboResult[E]: ...

    def sparse_update[E: Entity](
        self,
        entity: type[E],
        entity_id: str,
        sync_token: str,
        fields: Mapping[str, object],
        *,
        request_id: str,
    ) -> QboResult[E]: ...

    def batch_create(self, entities: Sequence[Entity], *, request_id: str) -> list[BatchOutcome]:
        """One batch request (at most 30 items); outcomes in the order of ``entities``."""
        ...

    def send_invoice(self, invoice_id: str, send_to: str, *, request_id: str) -> QboResult[Invoice]: ...

    def void_invoice(self, invoice_id: str, sync_token: str, *, request_id: str) -> QboResult[Invoice]: ...

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> QboResult[CdcChanges]:
        """Changes to Invoice, Payment and CreditMemo since ``changed_since`` (at most 30 days back)."""
        ...

    def company_info(self) -> QboResult[CompanyInfo]: ...

    def preferences(self) -> QboResult[Preferences]: ...
