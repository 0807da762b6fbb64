"""HTTP plumbing: a stdlib ThreadingHTTPServer that turns requests into `Request` values and routes them
to the data API, the OAuth endpoints or the control API."""

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from local.qbo_sandbox.control import PREFIX as CONTROL_PREFIX
from local.qbo_sandbox.control import ControlApi
from local.qbo_sandbox.dataapi import DATA_PREFIX, DataApi
from local.qbo_sandbox.faults import system_failure
from local.qbo_sandbox.oauth import OAuthApi
from local.qbo_sandbox.state import SandboxState
from local.qbo_sandbox.wire import Request, Response, json_response, new_intuit_tid

log = logging.getLogger(__name__)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default backlog of 5 refuses connections under the concurrency tests use.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        state: SandboxState,
        data: DataApi,
        oauth: OAuthApi,
        control: ControlApi,
    ) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.state = state
        self.data = data
        self.oauth = oauth
        self.control = control


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK sessions expect
    server_version = "QboSandbox/1.0"
    timeout = 120  # drop idle keep-alive connections eventually
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        # The request log (/_sandbox/requests) is the record; keep stderr quiet unless debugging.
        log.debug(format, *args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _request(self) -> Request:
        split = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return Request(
            method=self.command,
            path=unquote(split.path),
            raw_query=split.query,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self._read_body(),
            base_url=f"http://{host}",
        )

    def _send(self, response: Response) -> None:
        self._responded = True
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("intuit_tid", new_intuit_tid())
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except ConnectionError:
            self.close_connection = True  # the client went away; nothing left to tell it

    def _handle(self) -> None:
        self._responded = False
        try:
            request = self._request()
            if request.path.startswith(DATA_PREFIX):
                self.server.data.dispatch(request, self._send)
            elif request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
                self._send(self.server.control.dispatch(request))
            elif self.server.oauth.handles(request.path):
                self._send(self.server.oauth.dispatch(request))
            elif request.path in ("", "/"):
                self._send(json_response(200, {"service": "qbo-sandbox", "status": "ok"}))
            else:
                self._send(json_response(404, {"error": f"no such endpoint: {request.path}"}))
        except Exception:
            log.exception("unhandled error serving %s %s", self.command, self.path)
            if not self._responded:
                with self.server.state.lock:
                    now = self.server.state.clock.now()
                self._send(json_response(500, system_failure(500).payload(now)))
