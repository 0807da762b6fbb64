"""HTTP front of the OneDesk sandbox: routing, the OD-Public-API-Key check, faults, JSON in and out.

Public API under ``/rest/public`` (responses wrapped in ``{"code": "SUCCESS", "data": ...}``), control
API under ``/_sandbox`` (plain JSON, no auth). Errors are ``{"code": <HTTP status name>, "message"}``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import traceback
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from local.onedesk_sandbox.state import Body, JsonObject, SandboxError, SandboxState

PUBLIC_PREFIX = "/rest/public"
CONTROL_PREFIX = "/_sandbox"
API_KEY_HEADER = "OD-Public-API-Key"

Handler = Callable[..., JsonObject]
Route = tuple[str, re.Pattern[str], Handler]


def route(method: str, template: str, handler: Handler) -> Route:
    """``/invoices/{invoice_id}`` -> a pattern whose groups become the handler's keyword arguments."""
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return method, re.compile(f"{pattern}$"), handler


# Public handlers take (state, account, body, **path ids); control handlers take (state, body, **path ids).
PUBLIC_ROUTES = [
    route("GET", "/organization/profileAndPolicy", lambda s, account, body: s.profile(account)),
    route("POST", "/invoices/filter/details", lambda s, account, body: s.filter_invoices(account, body)),
    route(
        "GET",
        "/invoices/{invoice_id}",
        lambda s, account, body, invoice_id: s.get_invoice(account, invoice_id),
    ),
    route(
        "PUT",
        "/invoices/{invoice_id}/externalReferences/qbo",
        lambda s, account, body, invoice_id: s.set_qbo_reference(account, invoice_id, body),
    ),
    route(
        "POST",
        "/invoices/{invoice_id}/tags",
        lambda s, account, body, invoice_id: s.put_tag(account, invoice_id, body),
    ),
    route(
        "PUT",
        "/invoices/{invoice_id}/syncMessage",
        lambda s, account, body, invoice_id: s.set_sync_message(account, invoice_id, body),
    ),
    route(
        "PUT",
        "/invoices/{invoice_id}/paymentState",
        lambda s, account, body, invoice_id: s.set_payment_state(account, invoice_id, body),
    ),
]
CONTROL_ROUTES = [
    route("POST", "/reset", lambda s, body: s.reset()),
    route("POST", "/accounts", lambda s, body: s.create_account(body)),
    route("PUT", "/accounts/{account_id}/plan", lambda s, body, account_id: s.change_plan(account_id, body)),
    route(
        "POST",
        "/accounts/{account_id}/organizations",
        lambda s, body, account_id: s.create_organization(account_id, body),
    ),
    route("PATCH", "/organizations/{org_id}", lambda s, body, org_id: s.update_organization(org_id, body)),
    route(
        "POST",
        "/accounts/{account_id}/invoices",
        lambda s, body, account_id: s.create_invoice(account_id, body),
    ),
    route("PATCH", "/invoices/{invoice_id}", lambda s, body, invoice_id: s.update_invoice(invoice_id, body)),
    route(
        "POST", "/invoices/{invoice_id}/status", lambda s, body, invoice_id: s.change_status(invoice_id, body)
    ),
    route("GET", "/invoices/{invoice_id}", lambda s, body, invoice_id: s.invoice_record(invoice_id)),
    route("DELETE", "/invoices/{invoice_id}", lambda s, body, invoice_id: s.delete_invoice(invoice_id)),
    route("GET", "/requests", lambda s, body: s.requests()),
    route("PUT", "/clock", lambda s, body: s.set_clock(body)),
    route("POST", "/faults", lambda s, body: s.set_fault(body)),
]


def encode_json(value: object) -> str:
    """JSON text with every Decimal written as an exact number (``json.dumps`` only knows floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    return json.dumps(value)


def error_body(error: SandboxError) -> JsonObject:
    return {"code": HTTPStatus(error.status).name, "message": error.message}


def find_route(routes: list[Route], method: str, path: str) -> tuple[Handler, dict[str, str]]:
    for route_method, pattern, handler in routes:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, {name: unquote(value) for name, value in match.groupdict().items()}
    raise SandboxError(404, f"No route for {method} {path}")


def parse_body(raw: bytes) -> Body:
    try:
        # Money must stay exact: JSON numbers with a fraction become Decimal, never float.
        return Body(json.loads(raw, parse_float=Decimal) if raw.strip() else {})
    except ValueError:
        raise SandboxError(400, "Request body is not valid JSON") from None


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _RequestHandler)
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close idle keep-alive connections too, so a stopped sandbox really answers nothing."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the pooled session of the product
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: GET /_sandbox/requests is the request log."""

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        state = self.server.state
        try:
            with state.lock:
                if path.startswith(f"{PUBLIC_PREFIX}/"):
                    status, payload = self._serve_public(state, path, raw)
                elif path.startswith(f"{CONTROL_PREFIX}/"):
                    status, payload = self._serve_control(state, path, raw)
                else:
                    status, payload = 404, error_body(SandboxError(404, f"No route for {path}"))
        except Exception:  # a sandbox bug: answer like a real server would, and show it in the test output
            traceback.print_exc()
            status, payload = 500, error_body(SandboxError(500, "Internal sandbox error"))
        self._send(status, payload)

    def _serve_public(self, state: SandboxState, path: str, raw: bytes) -> tuple[int, JsonObject]:
        account_id = None
        try:
            injected = state.take_fault()
            if injected is not None:
                raise SandboxError(injected, "Injected fault")
            account = state.authenticate(self.headers.get(API_KEY_HEADER))
            account_id = account.id
            handler, ids = find_route(PUBLIC_ROUTES, self.command, path.removeprefix(PUBLIC_PREFIX))
            data = handler(state, account, parse_body(raw), **ids)
            status, payload = 200, {"code": "SUCCESS", "data": data}
        except SandboxError as error:
            status, payload = error.status, error_body(error)
        state.log_request(self.command, path, account_id, status)
        return status, payload

    def _serve_control(self, state: SandboxState, path: str, raw: bytes) -> tuple[int, JsonObject]:
        try:
            handler, ids = find_route(CONTROL_ROUTES, self.command, path.removeprefix(CONTROL_PREFIX))
            return 200, handler(state, parse_body(raw), **ids)
        except SandboxError as error:
            return error.status, error_body(error)

    def _send(self, status: int, payload: JsonObject) -> None:
        body = encode_json(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OneDeskSandbox:
    """The OneDesk public API plus a control API, served from a background thread.

    ``OneDeskSandbox(port=0)`` picks a free port; ``start()`` returns once connections are accepted.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._address = (host, port)
        self._state = SandboxState()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OneDeskSandbox:
        # Binding and listening happen here, so the port accepts connections before this returns.
        self._server = _Server(self._address, self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="onedesk-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join()
        self._server = self._thread = None

    @property
    def _origin(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self._origin}{PUBLIC_PREFIX}"

    @property
    def control_url(self) -> str:
        return f"{self._origin}{CONTROL_PREFIX}"

    def __enter__(self) -> OneDeskSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
