"""Starting the emulator: context manager and CLI with a state file (spec "Starting it")."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from local.qbo_sandbox import QboSandbox

from .conftest import US_REALM

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base_url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/_sandbox/companies", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"emulator at {base_url} did not come up")


def start_cli(port: int, state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "local.qbo_sandbox", "--port", str(port), "--state", str(state)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # SIGTERM: the spec says the state is saved on it
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_context_manager_serves_and_stops() -> None:
    """Spec in-process use: QboSandbox(port=0) works as a context manager; base_url is http://127.0.0.1:PORT."""
    with QboSandbox(port=0) as box:
        base_url = box.base_url.rstrip("/")
        assert base_url.startswith("http://127.0.0.1:")
        assert requests.get(base_url + "/_sandbox/companies", timeout=5).status_code == 200
    try:
        requests.get(base_url + "/_sandbox/companies", timeout=1)
    except requests.ConnectionError:
        return
    raise AssertionError("server still answering after the context manager exited")


def test_cli_state_file_survives_restart(tmp_path: Path) -> None:
    """Spec CLI: `python -m local.qbo_sandbox --port N --state FILE` saves a JSON snapshot on SIGTERM and
    loads it at start — a customer created before the restart is still there."""
    state = tmp_path / "qbo-state.json"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = start_cli(port, state)
    try:
        wait_ready(base_url)
        token = requests.post(base_url + "/_sandbox/tokens", json={"realmId": US_REALM}, timeout=5).json()
        resp = requests.post(
            f"{base_url}/v3/company/{US_REALM}/customer",
            json={"DisplayName": "Persisted Co"},
            headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=5,
        )
        assert resp.status_code == 200, resp.text
    finally:
        stop(proc)
    assert state.exists()
    proc = start_cli(port, state)
    try:
        wait_ready(base_url)
        customers = requests.get(f"{base_url}/_sandbox/entities/{US_REALM}/Customer", timeout=5).json()
        if isinstance(customers, dict):
            customers = customers["Customer"]
        assert "Persisted Co" in {c["DisplayName"] for c in customers}
    finally:
        stop(proc)
