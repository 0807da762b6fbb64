"""API Gateway HTTP APIs: routes served on 127.0.0.1 with Lambda proxy payload format 2.0.

Requests become the event API Gateway sends (body byte-exact: text content types as the UTF-8
string, everything else base64), and results are mapped back by the payload 2.0 rules. A function
error or timeout answers 500 `{"message":"Internal Server Error"}`, as API Gateway does: the client
never sees a stack trace.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.cfn import ACCOUNT_ID
from local.runner.pool import InvocationResult, RunnerStopped
from local.runner.spec import HttpRoute

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit
# Measured on AWS (HTTP API, payload 2.0): only these arrive as text; everything else, including
# application/x-www-form-urlencoded and a missing Content-Type, arrives base64-encoded.
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
_PARAMETER = re.compile(r"^\{([^{}+]+)(\+?)\}$")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _BoundRoute:
    function_id: str
    route: HttpRoute
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, int, int]  # lower wins: the most specific route, as API Gateway picks


def _bind(function_id: str, route: HttpRoute) -> _BoundRoute:
    if route.path == "$default":
        return _BoundRoute(function_id, route, re.compile(r"^/.*$"), (), (3, 0, 0))
    names: list[str] = []
    parts: list[str] = []
    literal_segments = 0
    greedy = False
    for segment in route.path.strip("/").split("/"):
        match = _PARAMETER.match(segment)
        if match is None:
            parts.append(re.escape(segment))
            literal_segments += 1
        elif match.group(2):
            names.append(match.group(1))
            parts.append("(.+)")
            greedy = True
        else:
            names.append(match.group(1))
            parts.append("([^/]+)")
    pattern = re.compile("^/" + "/".join(parts) + "$")
    rank = (2 if greedy else (1 if names else 0), -literal_segments, 1 if route.method == "ANY" else 0)
    return _BoundRoute(function_id, route, pattern, tuple(names), rank)


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, message: str) -> Response:
    return Response(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


class HttpApi:
    """The routes of the template's HTTP APIs and the translation to and from Lambda."""

    def __init__(
        self, routes: Iterable[tuple[str, HttpRoute]], invoke: Callable[[str, Any], InvocationResult]
    ):
        bound: dict[str, _BoundRoute] = {}
        for function_id, route in routes:
            if route.route_key in bound:
                logger.warning(
                    "route %s is declared twice; %s serves it",
                    route.route_key,
                    bound[route.route_key].function_id,
                )
                continue
            bound[route.route_key] = _bind(function_id, route)
        self.routes = sorted(bound.values(), key=lambda item: item.rank)
        self._invoke = invoke

    def match(self, method: str, path: str) -> tuple[_BoundRoute, dict[str, str]] | None:
        for bound in self.routes:
            if bound.route.method not in {"ANY", method}:
                continue
            found = bound.pattern.match(path)
            if found is not None:
                return bound, {
                    name: unquote(value) for name, value in zip(bound.names, found.groups(), strict=True)
                }
        return None

    def handle(self, request: Request) -> Response:
        path, _, query = request.target.partition("?")
        path = urlsplit(path).path or "/"
        matched = self.match(request.method, path)
        if matched is None:
            return _json_response(404, "Not Found")
        bound, path_parameters = matched
        event = build_event(request, bound.route, path, query, path_parameters)
        try:
            result = self._invoke(bound.function_id, event)
        except RunnerStopped:
            return _json_response(503, "Service Unavailable")
        return to_response(result, event["requestContext"]["requestId"])


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_TYPES


def build_event(
    request: Request, route: HttpRoute, path: str, query: str, path_parameters: dict[str, str]
) -> dict[str, Any]:
    """API Gateway's payload format 2.0 event for one request."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    host = headers.get("host", "127.0.0.1")
    headers.setdefault("x-forwarded-port", host.rpartition(":")[2] if ":" in host else "80")
    headers["x-amzn-trace-id"] = f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    now = datetime.now(UTC)
    request_id = base64.b64encode(os.urandom(10)).decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        event["queryStringParameters"] = parameters
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": route.api_id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    is_base64 = False
    if request.body:
        body = _text_body(request.body) if _is_text(headers.get("content-type", "")) else None
        if body is None:
            body = base64.b64encode(request.body).decode()
            is_base64 = True
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def _text_body(raw: bytes) -> str | None:
    # A "text" body that is not valid UTF-8 travels base64-encoded so that it stays byte-exact.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def to_response(result: InvocationResult, request_id: str) -> Response:
    """The HTTP response API Gateway makes of a Lambda result (payload format 2.0)."""
    response = _map_result(result)
    response.headers.append(("apigw-requestid", request_id))
    return response


def _map_result(result: InvocationResult) -> Response:
    if not result.ok:
        return _json_response(500, "Internal Server Error")
    payload = result.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        # No statusCode: API Gateway infers 200 and sends the function's JSON as the body.
        return Response(200, [("Content-Type", "application/json")], json.dumps(payload).encode())
    try:
        status = int(payload["statusCode"])
        body = payload.get("body") or ""
        if not isinstance(body, str):
            raise TypeError("body is not a string")
        raw = base64.b64decode(body, validate=True) if payload.get("isBase64Encoded") else body.encode()
        headers = [
            (str(name), _header_value(value)) for name, value in (payload.get("headers") or {}).items()
        ]
        headers.extend(("Set-Cookie", str(cookie)) for cookie in payload.get("cookies") or [])
    except (TypeError, ValueError, AttributeError) as exc:
        logger.warning("%s: malformed Lambda proxy response (%s)", result.function, exc)
        return _json_response(500, "Internal Server Error")
    return Response(status, headers, raw)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._send(_json_response(400, "Bad Request"))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(_json_response(413, "Request Entity Too Large"))
            return
        body = self._read_chunked() if chunked else self.rfile.read(length)
        if body is None:
            self.close_connection = True
            self._send(_json_response(413, "Request Entity Too Large"))
            return
        request = Request(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        self._send(self.server.api.handle(request))

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                return None
            body += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        self.send_response_only(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        if "date" not in names:
            self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    # http.server dispatches on these names; every method goes through the same route table.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, api: HttpApi) -> None:
        super().__init__(("127.0.0.1", port), _RequestHandler)
        self.api = api


class HttpApiServer:
    """One local server for every HTTP API route of the template."""

    def __init__(self, api: HttpApi, port: int = 0) -> None:
        self.api = api
        self._server = _Server(port, api)
        # A short poll interval: shutdown() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="http-api", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
