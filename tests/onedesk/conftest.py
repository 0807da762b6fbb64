"""One OneDesk sandbox per test session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.onedesk_sandbox import OneDeskSandbox
from tests.onedesk.sandbox_control import SandboxControl, Tenant


@pytest.fixture(scope="session")
def onedesk_sandbox() -> Iterator[OneDeskSandbox]:
    with OneDeskSandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def control(onedesk_sandbox: OneDeskSandbox) -> SandboxControl:
    control = SandboxControl(onedesk_sandbox)
    control.call("POST", "/reset")
    return control


@pytest.fixture
def tenant(control: SandboxControl) -> Tenant:
    return control.tenant()
