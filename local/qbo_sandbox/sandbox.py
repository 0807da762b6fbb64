"""`QboSandbox`: the emulator as an object that tests and the demo start and stop in-process."""

import logging
import os
import threading
from pathlib import Path
from types import TracebackType

from local.qbo_sandbox.clock import EmulatorClock
from local.qbo_sandbox.control import ControlApi
from local.qbo_sandbox.dataapi import DataApi
from local.qbo_sandbox.money import dumps, loads
from local.qbo_sandbox.oauth import OAuthApi
from local.qbo_sandbox.server import SandboxHTTPServer
from local.qbo_sandbox.state import SandboxState
from local.qbo_sandbox.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)
WILDCARD_HOSTS = ("", "0.0.0.0")


class QboSandbox:
    """A QuickBooks Online sandbox (data API, OAuth, control API) on one local HTTP port.

    >>> with QboSandbox(port=0) as sandbox:
    ...     sandbox.base_url  # "http://127.0.0.1:PORT"
    """

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", state_file: str | os.PathLike[str] | None = None
    ):
        self._host = host
        self._requested_port = port
        self._state_file = Path(state_file) if state_file else None
        self.state = SandboxState(EmulatorClock())
        self.webhooks = WebhookDispatcher(self.state)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "QboSandbox":
        """Returns once the socket is listening (connections queue until served)."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        if self._state_file is not None and self._state_file.exists():
            self.state.restore(loads(self._state_file.read_text(encoding="utf-8")))
            log.info("loaded sandbox state from %s", self._state_file)
        server = SandboxHTTPServer(
            (self._host, self._requested_port),
            self.state,
            DataApi(self.state, self.webhooks),
            OAuthApi(self.state),
            ControlApi(self.state, self.webhooks),
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="qbo-sandbox-http", daemon=True
        )
        self._thread.start()
        self.webhooks.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self._host in WILDCARD_HOSTS else self._host
        return f"http://{host}:{self.port}"

    def save_state(self) -> None:
        """Write the snapshot atomically, so a kill mid-write never leaves a truncated file."""
        if self._state_file is None:
            return
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        temporary.write_text(dumps(self.state.snapshot()), encoding="utf-8")
        temporary.replace(self._state_file)
        log.info("saved sandbox state to %s", self._state_file)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.webhooks.stop()
        self.save_state()

    def __enter__(self) -> "QboSandbox":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
