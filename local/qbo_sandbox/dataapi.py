"""The data API (`/v3/company/{realmId}/...`): routing, auth, limits, injected faults, requestid
replay, and the operations themselves (entities, query, CDC, batch, send, PDF)."""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from local.qbo_sandbox import entities
from local.qbo_sandbox.clock import meta_timestamp, parse_timestamp, response_time
from local.qbo_sandbox.entities import BY_PATH, ENTITY_TYPES, EntityType
from local.qbo_sandbox.faults import (
    NGINX_ERROR_PAGE,
    WWW_AUTHENTICATE,
    QboFault,
    authentication_failed_body,
    authorization_failed_body,
    invalid_enumeration,
    malformed_request,
    query_parse_error,
    query_validation_error,
    required_param,
    system_failure,
    throttle_body,
    too_long,
    unknown_resource,
    unsupported_operation,
)
from local.qbo_sandbox.money import loads
from local.qbo_sandbox.query import parse_query, run_query
from local.qbo_sandbox.state import SandboxState
from local.qbo_sandbox.store import Company, OpContext
from local.qbo_sandbox.tokens import TokenError
from local.qbo_sandbox.webhooks import WebhookDispatcher
from local.qbo_sandbox.wire import Request, Response, Send, json_response

DATA_PREFIX = "/v3/company/"
MAX_REQUEST_ID = 50
CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_OBJECTS = 1000
WRITES = frozenset({"save", "delete", "void", "send", "batch"})
_FROM = re.compile(r"\bfrom\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    realm_id: str
    operation: str  # save|read|delete|void|send|pdf|query|cdc|batch, or "" when not routable
    entity: EntityType | None = None
    target_id: str = ""
    unsupported: str = ""  # an ?operation= value QBO does not know

    @property
    def write(self) -> bool:
        return self.operation in WRITES


@dataclass
class Outcome:
    response: Response
    fault_code: str | None = None
    operation: str | None = None
    entity: str | None = None


def resolve(method: str, path: str, query: dict[str, str]) -> Route:
    realm_id, _, rest = path[len(DATA_PREFIX) :].partition("/")
    parts = [part for part in rest.split("/") if part]
    entity = BY_PATH.get(parts[0]) if parts else None
    if parts == ["query"] and method in ("GET", "POST"):
        return Route(realm_id, "query")
    if parts == ["cdc"] and method == "GET":
        return Route(realm_id, "cdc")
    if parts == ["batch"] and method == "POST":
        return Route(realm_id, "batch")
    if entity is not None and len(parts) == 1:
        if method == "GET" and entity.singleton_id:
            return Route(realm_id, "read", entity, entity.singleton_id)
        if method == "POST":
            operation = _write_operation(query)
            if operation is None:
                return Route(realm_id, "", entity, unsupported=query["operation"])
            return Route(realm_id, operation, entity)
    if entity is not None and len(parts) == 2 and method == "GET":
        return Route(realm_id, "read", entity, parts[1])
    if entity is not None and entity.name == "Invoice" and len(parts) == 3:
        if parts[2] == "send" and method == "POST":
            return Route(realm_id, "send", entity, parts[1])
        if parts[2] == "pdf" and method == "GET":
            return Route(realm_id, "pdf", entity, parts[1])
    return Route(realm_id, "")


def _write_operation(query: dict[str, str]) -> str | None:
    operation = query.get("operation", "")
    if operation in ("delete", "void"):
        return operation
    if query.get("include") == "void" and operation in ("", "update"):
        return "void"  # payment void: ?operation=update&include=void (§1)
    return "save" if operation in ("", "update", "create") else None


def injected_outcome(status: int, now: datetime) -> Outcome:
    """The body QBO (or its edge) sends with that status."""
    if status == 429:
        return Outcome(Response(429, throttle_body(now), "application/xml"), "3001")
    if status == 401:
        return _unauthenticated("Token invalid", now)
    if status == 403:
        return Outcome(json_response(403, authorization_failed_body()), "3100")
    if status in (502, 503, 504):
        page = NGINX_ERROR_PAGE.format(status=status, reason=HTTPStatus(status).phrase)
        return Outcome(Response(status, page.encode(), "text/html"))
    if status >= 500:
        fault = system_failure(status)
    else:
        fault = QboFault("6000", "Business Validation Error", f"injected HTTP {status}", status=status)
    return Outcome(json_response(status, fault.payload(now)), fault.code)


def _unauthenticated(detail: str, now: datetime) -> Outcome:
    response = json_response(401, authentication_failed_body(detail, now))
    response.headers["www-authenticate"] = WWW_AUTHENTICATE
    return Outcome(response, "3200")


def _fault_outcome(fault: QboFault, now: datetime) -> Outcome:
    return Outcome(json_response(fault.status, fault.payload(now)), fault.code)


def _json_body(request: Request) -> dict[str, Any]:
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise unsupported_operation(
            "Unsupported Operation: the request body is not UTF-8 (MalformedByteSequenceException)"
        ) from None
    try:
        body = loads(text or "{}")
    except ValueError as error:
        raise malformed_request(f"Property Name:{error} specified is unsupported or invalid") from None
    if not isinstance(body, dict):
        raise malformed_request("The request body must be a JSON object")
    return body


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """A small, valid one-page PDF naming the invoice (clients only check they got a PDF)."""
    lines = [
        f"Invoice {invoice.get('DocNumber') or invoice['Id']}",
        f"Customer: {invoice.get('CustomerRef', {}).get('name', '')}",
        f"Date: {invoice.get('TxnDate', '')}",
        f"Total: {invoice.get('TotalAmt')}  Balance due: {invoice.get('Balance')}",
    ]

    def pdf_text(value: str) -> str:
        safe = value.encode("latin-1", "replace").decode("latin-1")
        return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 14 Tf 72 740 Td " + " 0 -22 Td ".join(f"({pdf_text(line)}) Tj" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


class DataApi:
    def __init__(self, state: SandboxState, webhooks: WebhookDispatcher) -> None:
        self._state = state
        self._webhooks = webhooks

    def dispatch(self, request: Request, send: Send) -> None:
        """Counts the request in flight from entry until its response has been written."""
        route = resolve(request.method, request.path, dict(request.query))
        state = self._state
        stats = state.realm_stats(route.realm_id)
        with state.lock:
            stats.requests += 1
            stats.in_flight += 1
            in_flight = stats.in_flight
            stats.max_in_flight = max(stats.max_in_flight, in_flight)
        try:
            outcome = self._process(request, route, in_flight)
            state.log_request(
                realmId=route.realm_id,
                method=request.method,
                path=request.path,
                query=request.raw_query,
                requestid=request.query.get("requestid"),
                status=outcome.response.status,
                fault_code=outcome.fault_code,
                entity=outcome.entity or (route.entity.name if route.entity else None),
                operation=outcome.operation or route.operation or None,
            )
            send(outcome.response)
        finally:
            with state.lock:
                stats.in_flight -= 1

    def _process(self, request: Request, route: Route, in_flight: int) -> Outcome:
        state = self._state
        now = state.clock.now()
        refused = self._authenticate(request, route.realm_id, now) or self._throttle(
            route.realm_id, in_flight, now
        )
        if refused is not None:
            return refused
        rule = state.take_fault_rule(request.method, request.path, request.raw_query, route.realm_id)
        if rule is not None and rule.delay_ms:
            time.sleep(rule.delay_ms / 1000)  # outside the lock: the request stays in flight meanwhile
        if rule is not None and rule.status and not rule.after_commit:
            return injected_outcome(rule.status, state.clock.now())
        outcome = self._execute(request, route)
        if rule is not None and rule.status and rule.after_commit:
            # The write is committed (and its requestid answer stored); the client never sees it.
            injected = injected_outcome(rule.status, state.clock.now())
            injected.operation, injected.entity = outcome.operation, outcome.entity
            return injected
        return outcome

    def _authenticate(self, request: Request, realm_id: str, now: datetime) -> Outcome | None:
        scheme, _, token = request.header("authorization").partition(" ")
        with self._state.lock:
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise TokenError("invalid_token", "Authorization header missing or not a Bearer token")
                grant = self._state.oauth.check_access_token(token.strip(), now)
            except TokenError as error:
                return _unauthenticated(error.description, now)
        if grant.realm_id != realm_id:
            return Outcome(json_response(403, authorization_failed_body()), "3100")
        return None

    def _throttle(self, realm_id: str, in_flight: int, now: datetime) -> Outcome | None:
        state = self._state
        with state.lock:
            stats, limits = state.realm_stats(realm_id), state.limits
            window_start = now - timedelta(seconds=limits.window_seconds)
            while stats.window and stats.window[0] <= window_start:
                stats.window.popleft()
            if in_flight > limits.max_in_flight or len(stats.window) >= limits.max_per_minute:
                stats.throttled += 1
                return Outcome(Response(429, throttle_body(now), "application/xml"), "3001")
            stats.window.append(now)
            stats.max_in_window = max(stats.max_in_window, len(stats.window))
        return None

    def _execute(self, request: Request, route: Route) -> Outcome:
        state = self._state
        now = state.clock.now()
        request_id = request.query.get("requestid", "") if route.write else ""
        try:
            if route.unsupported:
                raise unsupported_operation(f"Operation {route.unsupported} is not supported")
            if not route.operation:
                raise unknown_resource(request.path)
            if len(request_id) > MAX_REQUEST_ID:
                raise too_long("requestid", MAX_REQUEST_ID, len(request_id))
            body = _json_body(request) if route.operation in ("save", "delete", "void", "batch") else {}
        except QboFault as fault:
            return _fault_outcome(fault, now)

        operation = route.operation
        if operation == "save" and route.entity is not None:
            operation = "update" if entities.is_update(route.entity, body) else "create"
        with state.lock:
            company = state.companies.get(route.realm_id)
            if company is None:
                return _fault_outcome(unknown_resource(request.path), now)
            replay = state.replayable(route.realm_id, request_id) if request_id else None
            if replay is not None:
                outcome = Outcome(replay.response, replay.fault_code, entity=_log_entity(request, route))
            else:
                ctx = OpContext(company, state.clock.now())
                try:
                    outcome = Outcome(
                        self._run(ctx, request, route, body), entity=_log_entity(request, route)
                    )
                except QboFault as fault:
                    outcome = _fault_outcome(fault, ctx.now)
                if request_id:
                    state.remember(route.realm_id, request_id, outcome.response, outcome.fault_code)
                if outcome.response.status == 200:
                    self._webhooks.publish(ctx.events)
        outcome.operation = operation
        return outcome

    def _run(self, ctx: OpContext, request: Request, route: Route, body: dict[str, Any]) -> Response:
        entity, operation = route.entity, route.operation
        payload: dict[str, Any]
        if operation == "query":
            payload = {"QueryResponse": self._query(ctx.company, _query_text(request))}
        elif operation == "cdc":
            payload = self._cdc(ctx, request.query)
        elif operation == "batch":
            payload = self._batch(ctx, body)
        elif entity is None:
            raise unknown_resource(request.path)
        elif operation == "pdf":
            invoice = entities.read(ctx, entity, route.target_id)["Invoice"]
            return Response(200, invoice_pdf(invoice), "application/pdf")
        elif operation == "read":
            payload = entities.read(ctx, entity, route.target_id)
        elif operation == "save":
            payload = entities.save(ctx, entity, body)
        elif operation == "delete":
            payload = entities.delete(ctx, entity, body)
        elif operation == "void":
            payload = entities.void(ctx, entity, body)
        else:
            payload = entities.send(ctx, route.target_id, request.query.get("sendTo", "").strip())
        return json_response(200, {**payload, "time": response_time(ctx.now)})

    def _query(self, company: Company, text: str) -> dict[str, Any]:
        query = parse_query(text)
        entity = entities.lookup(query.entity)
        if entity is None:
            raise query_validation_error(f"{query.entity} is not a supported entity")
        objects = entity.render(company, company.all(entity.name))
        return run_query(query, entity.name, objects, hide_inactive=entity.name_list)

    def _cdc(self, ctx: OpContext, params: Mapping[str, str]) -> dict[str, Any]:
        names = [name.strip() for name in params.get("entities", "").split(",") if name.strip()]
        if not names:
            raise required_param("entities")
        since_text = params.get("changedSince", "")
        if not since_text:
            raise required_param("changedSince")
        since = parse_timestamp(since_text)
        if since is None:
            raise query_validation_error(f"changedSince {since_text!r} is not a valid date-time")
        if since < ctx.now - CDC_LOOKBACK:
            raise query_validation_error("changedSince must be within the last 30 days")
        company = ctx.company
        responses: list[dict[str, Any]] = []
        total = 0
        for name in names:
            entity = entities.lookup(name)
            if entity is None or not entity.cdc:
                raise query_validation_error(f"Change data capture is not supported for {name}")
            changed = [record for record in company.all(entity.name) if record.updated >= since]
            objects = entity.render(company, changed)
            for entity_id, deleted_at in sorted(company.tombstones.get(entity.name, {}).items()):
                if deleted_at >= since:
                    stub = {"LastUpdatedTime": meta_timestamp(deleted_at)}
                    objects.append({"domain": "QBO", "status": "Deleted", "Id": entity_id, "MetaData": stub})
            total += len(objects)
            if objects:
                page = {entity.name: objects, "startPosition": 1, "maxResults": len(objects)}
                responses.append({**page, "totalCount": len(objects)})
            else:
                responses.append({})
        if total > CDC_MAX_OBJECTS:
            raise query_validation_error(
                f"{total} objects changed since {since_text}: a CDC response holds at most "
                f"{CDC_MAX_OBJECTS}; use a shorter window (a later changedSince)"
            )
        return {"CDCResponse": [{"QueryResponse": responses}]}

    def _batch(self, ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
        items = body.get("BatchItemRequest")
        if not isinstance(items, list):
            raise required_param("BatchItemRequest")
        results: list[dict[str, Any]] = []
        for item in items:
            bid = item.get("bId") if isinstance(item, dict) else None
            item_ctx = OpContext(ctx.company, ctx.now)
            try:
                results.append({"bId": bid, **self._batch_item(item_ctx, item)})
            except QboFault as fault:
                results.append({"bId": bid, "Fault": fault.fault()})
            else:
                ctx.events.extend(item_ctx.events)
        return {"BatchItemResponse": results}

    def _batch_item(self, ctx: OpContext, item: object) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise malformed_request("Every BatchItemRequest entry must be an object")
        if "Query" in item:
            return {"QueryResponse": self._query(ctx.company, str(item["Query"]))}
        names = [key for key in item if key in ENTITY_TYPES]
        if len(names) != 1 or not isinstance(item[names[0]], dict):
            raise malformed_request("A batch item needs exactly one entity object (or a Query)")
        entity, payload = ENTITY_TYPES[names[0]], item[names[0]]
        operation = item.get("operation")
        handlers: dict[str, Callable[[OpContext, EntityType, dict[str, Any]], dict[str, Any]]] = {
            "create": entities.create,
            "update": entities.update,
            "delete": entities.delete,
        }
        if operation not in handlers:
            raise invalid_enumeration("operation", operation)
        return handlers[operation](ctx, entity, payload)


def _query_text(request: Request) -> str:
    if request.method == "GET":
        return request.query.get("query", "")
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise query_parse_error("Invalid content: the query is not UTF-8") from None


def _log_entity(request: Request, route: Route) -> str | None:
    """For the request log: the entity named in the path, a query's FROM, or CDC's entity list."""
    if route.operation == "query":
        match = _FROM.search(request.query.get("query", "") or request.body.decode("utf-8", "replace"))
        return match.group(1) if match else None
    if route.operation == "cdc":
        return request.query.get("entities")
    return route.entity.name if route.entity else None
