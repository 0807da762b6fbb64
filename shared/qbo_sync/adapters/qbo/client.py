"""The product's QBO Accounting API v3 client for one realm (implements ``QboPort``).

Every HTTP request: a token from ``AccessTokenSource``, a slot of the realm's ``RequestBudget`` held
for exactly the request, ``minorversion``, a timeout, and one log line (method, path, status,
``intuit_tid``, request id, attempt, duration; never headers, bodies or query values).

Retries: 429, 5xx, timeouts and connection errors get a few quick retries with exponential backoff
and jitter (about a second and a half in all), never more than the invocation has time for. Longer
waits happen on the queue instead, where they hold up no batch: the failed record comes back after
its own retry delay (``qbo_sync.retries``). Writes carry ``requestid`` and every retry reuses it, so
a write QBO completed but whose response was lost is replayed by QBO rather than done twice (QBO
answers a ``requestid`` it has already seen with the stored response). A 401 gets one forced token
refresh, then ``QboAuthError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from qbo_sync.adapters.qbo.codec import dumps, loads
from qbo_sync.adapters.qbo.faults import errors_of_json, fault_from_response, to_error
from qbo_sync.adapters.qbo.query import MAX_PAGE_SIZE, plan_queries, satisfies, select
from qbo_sync.deadline import seconds_left
from qbo_sync.domain.backoff import backoff_delay
from qbo_sync.domain.qbo import CompanyInfo, CreditMemo, DeletedStub, Entity, Invoice, Payment, Preferences
from qbo_sync.observability import logger
from qbo_sync.ports.qbo import (
    BatchOutcome,
    CdcChanges,
    Condition,
    QboError,
    QboResult,
    QboThrottled,
    QboTransient,
)
from qbo_sync.ports.tokens import AccessTokenSource, RequestBudget

MAX_BATCH_ITEMS = 30  # QBO's recommended payload ceiling per batch (qbo-facts §6)
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
CDC_ENTITIES = ("Invoice", "Payment", "CreditMemo")
_RETRYABLE_ERRORS = (QboThrottled, QboTransient)
_NETWORK_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class _Reply:
    body: dict[str, Any]
    intuit_tid: str | None


class QboClient:
    def __init__(
        self,
        realm_id: str,
        base_url: str,
        tokens: AccessTokenSource,
        budget: RequestBudget,
        session: requests.Session,
        *,
        minor_version: int = 75,
        timeout_seconds: float = 30,
        max_attempts: int = 3,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.realm_id = realm_id
        self._company_url = f"{base_url.rstrip('/')}/v3/company/{realm_id}"
        self._tokens = tokens
        self._budget = budget
        self._session = session
        self._minor_version = minor_version
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._sleep = sleep

    # ------------------------------------------------------------------ QboPort

    def query[E: Entity](
        self, entity: type[E], where: Sequence[Condition] = (), *, include_inactive: bool = False
    ) -> QboResult[list[E]]:
        """Every ``entity`` matching all of ``where``, paging through QBO's 1000-row pages.

        An ``eq`` on text with typographic punctuation (curly quotes U+2019/U+201C/U+201D, en dash
        U+2013), which QBO's ``=`` cannot match, is sent as ``LIKE`` on its longest plain fragment
        and checked exactly on every returned row (see ``query.py``).
        """
        if include_inactive and "Active" not in entity.model_fields:
            raise ValueError(f"{entity.__name__} has no Active flag; include_inactive is for name lists")
        name = entity.__name__
        matching: dict[str | None, E] = {}
        intuit_tid: str | None = None
        for plan in plan_queries(where, include_inactive=include_inactive):
            start = 1
            while True:
                statement = select(name, plan.server, start, MAX_PAGE_SIZE)
                reply = self._send("POST", "query", data=statement.encode(), content_type="application/text")
                intuit_tid = reply.intuit_tid
                page = reply.body.get("QueryResponse", {}).get(name, [])
                for row in map(entity.model_validate, page):
                    if satisfies(row, plan.client):
                        matching.setdefault(row.Id, row)
                if len(page) < MAX_PAGE_SIZE:
                    break
                start += MAX_PAGE_SIZE
        return QboResult(list(matching.values()), intuit_tid=intuit_tid)

    def read[E: Entity](self, entity: type[E], entity_id: str) -> QboResult[E]:
        reply = self._send("GET", f"{entity.__name__.lower()}/{quote(entity_id, safe='')}")
        return QboResult(entity.model_validate(reply.body[entity.__name__]), intuit_tid=reply.intuit_tid)

    def create[E: Entity](self, entity: E, *, request_id: str) -> QboResult[E]:
        return self._write(type(entity), type(entity).__name__.lower(), entity, request_id)

    def sparse_update[E: Entity](
        self,
        entity: type[E],
        entity_id: str,
        sync_token: str,
        fields: Mapping[str, object],
        *,
        request_id: str,
    ) -> QboResult[E]:
        body = {**fields, "Id": entity_id, "SyncToken": sync_token, "sparse": True}
        return self._write(entity, entity.__name__.lower(), body, request_id)

    def batch_create(self, entities: Sequence[Entity], *, request_id: str) -> list[BatchOutcome]:
        if not 0 < len(entities) <= MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_ITEMS} items, got {len(entities)}")
        _check_request_id(request_id, MAX_BATCH_REQUEST_ID)
        items = [
            {"bId": str(index), "operation": "create", type(item).__name__: item}
            for index, item in enumerate(entities)
        ]
        reply = self._send("POST", "batch", json_body={"BatchItemRequest": items}, request_id=request_id)
        answers = {str(item.get("bId")): item for item in reply.body.get("BatchItemResponse", [])}
        return [
            self._batch_outcome(item, answers.get(str(index)), reply) for index, item in enumerate(entities)
        ]

    def send_invoice(self, invoice_id: str, send_to: str, *, request_id: str) -> QboResult[Invoice]:
        _check_request_id(request_id, MAX_REQUEST_ID)
        reply = self._send(
            "POST",
            f"invoice/{quote(invoice_id, safe='')}/send",
            params={"sendTo": send_to},
            data=b"",
            content_type="application/octet-stream",
            request_id=request_id,
        )
        return QboResult(Invoice.model_validate(reply.body["Invoice"]), reply.intuit_tid, request_id)

    def void_invoice(self, invoice_id: str, sync_token: str, *, request_id: str) -> QboResult[Invoice]:
        body = {"Id": invoice_id, "SyncToken": sync_token}
        return self._write(Invoice, "invoice", body, request_id, params={"operation": "void"})

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> QboResult[CdcChanges]:
        unsupported = set(entities) - set(CDC_ENTITIES)
        if unsupported or not entities:
            raise ValueError(f"CDC is wired for {', '.join(CDC_ENTITIES)}; got {sorted(entities)}")
        if changed_since.tzinfo is None:
            raise ValueError("changed_since needs a UTC offset")
        params = {"entities": ",".join(entities), "changedSince": changed_since.isoformat()}
        reply = self._send("GET", "cdc", params=params)
        groups: list[dict[str, Any]] = reply.body["CDCResponse"][0]["QueryResponse"]
        changes = CdcChanges(
            invoices=_cdc_rows(groups, Invoice),
            payments=_cdc_rows(groups, Payment),
            credit_memos=_cdc_rows(groups, CreditMemo),
            time=str(reply.body.get("time", "")),
        )
        return QboResult(changes, intuit_tid=reply.intuit_tid)

    def company_info(self) -> QboResult[CompanyInfo]:
        return self.read(CompanyInfo, self.realm_id)

    def preferences(self) -> QboResult[Preferences]:
        reply = self._send("GET", "preferences")
        return QboResult(Preferences.model_validate(reply.body["Preferences"]), intuit_tid=reply.intuit_tid)

    # ------------------------------------------------------------------ internals

    def _write[E: Entity](
        self,
        entity: type[E],
        path: str,
        body: object,
        request_id: str,
        params: Mapping[str, str] | None = None,
    ) -> QboResult[E]:
        _check_request_id(request_id, MAX_REQUEST_ID)
        reply = self._send("POST", path, params=params, json_body=body, request_id=request_id)
        return QboResult(entity.model_validate(reply.body[entity.__name__]), reply.intuit_tid, request_id)

    @staticmethod
    def _batch_outcome(sent: Entity, answer: dict[str, Any] | None, reply: _Reply) -> BatchOutcome:
        if answer is None:
            missing = QboTransient(status=None, code=None, message="batch item missing from QBO's answer")
            return BatchOutcome(entity=None, error=missing)
        if errors := errors_of_json(answer):
            return BatchOutcome(entity=None, error=to_error(None, errors, reply.intuit_tid))
        return BatchOutcome(entity=type(sent).model_validate(answer[type(sent).__name__]), error=None)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        request_id: str | None = None,
    ) -> _Reply:
        url = f"{self._company_url}/{path}"
        query = {"minorversion": str(self._minor_version), **(params or {})}
        headers = {"Accept": "application/json"}
        if json_body is not None:
            data = dumps(json_body).encode()
            content_type = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        if request_id is not None:
            query["requestid"] = request_id
        token = self._tokens.current()
        refreshed = False
        number = 0
        while True:
            number += 1
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            attempt = _Attempt(self.realm_id, method, path, request_id, number, queued=time.monotonic())
            try:
                with self._budget.acquire():
                    attempt.sent = time.monotonic()
                    response = self._session.request(
                        method, url, params=query, data=data, headers=headers, timeout=self._timeout
                    )
            except _NETWORK_ERRORS as exc:
                attempt.log(status=None, intuit_tid=None)
                failure: QboError = QboTransient(
                    status=None, code=None, message=f"{type(exc).__name__} calling QBO"
                )
            else:
                intuit_tid = response.headers.get("intuit_tid")
                attempt.log(status=response.status_code, intuit_tid=intuit_tid)
                if response.status_code == 200:
                    return _parse_ok(response, intuit_tid)
                if response.status_code == 401 and not refreshed:
                    token = self._tokens.refreshed_after_rejection(token)
                    refreshed = True
                    continue
                failure = fault_from_response(response.status_code, response.content, intuit_tid)
            if not isinstance(failure, _RETRYABLE_ERRORS) or number >= self._max_attempts:
                raise failure
            delay = backoff_delay(number, self._backoff_base, self._backoff_cap)
            left = seconds_left()
            if left is not None and left < delay + self._timeout:
                raise failure  # no time for another full attempt: let the message be retried later
            self._sleep(delay)


@dataclass
class _Attempt:
    """One HTTP attempt, for its log line (never headers, bodies or query values)."""

    realm_id: str
    method: str
    path: str
    request_id: str | None
    number: int
    queued: float
    sent: float | None = None

    def log(self, *, status: int | None, intuit_tid: str | None) -> None:
        now = time.monotonic()
        sent = self.sent if self.sent is not None else now
        logger.info(
            "qbo request",
            extra={
                "realm_id": self.realm_id,
                "method": self.method,
                "path": self.path,
                "status": status,
                "intuit_tid": intuit_tid,
                "request_id": self.request_id,
                "attempt": self.number,
                "budget_wait_ms": round((sent - self.queued) * 1000, 1),
                "duration_ms": round((now - sent) * 1000, 1),
            },
        )


def _parse_ok(response: requests.Response, intuit_tid: str | None) -> _Reply:
    try:
        body = loads(response.content)
    except ValueError:
        raise QboTransient(
            status=200,
            code=None,
            message="QBO answered 200 with a body that is not JSON",
            intuit_tid=intuit_tid,
        ) from None
    if errors := errors_of_json(body):
        raise to_error(200, errors, intuit_tid)
    return _Reply(body, intuit_tid)


def _check_request_id(request_id: str, limit: int) -> None:
    if not 0 < len(request_id) <= limit:
        raise ValueError(f"QBO request ids are 1 to {limit} characters (a UUID fits)")


def _cdc_rows[E: Entity](groups: list[dict[str, Any]], model: type[E]) -> list[E | DeletedStub]:
    rows: list[E | DeletedStub] = []
    for group in groups:
        for row in group.get(model.__name__, []):
            rows.append(
                DeletedStub.model_validate(row)
                if row.get("status") == "Deleted"
                else model.model_validate(row)
            )
    return rows
