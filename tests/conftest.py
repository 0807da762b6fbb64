"""Session fixtures shared by several suites: one QBO emulator and one moto server per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from local.qbo_sandbox import QboSandbox


@pytest.fixture(scope="session")
def qbo_sandbox() -> Iterator[QboSandbox]:
    with QboSandbox(port=0) as box:
        yield box


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto in server mode (threaded, in this process) for tests that drive the adapters directly."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
