"""Token lifecycle against the emulator's OAuth endpoints and moto: single-flight refresh across
threads and processes, invalid_grant parking, and no token in logs, exceptions or the table."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from qbo_sync.adapters.aws import dynamodb_table
from qbo_sync.adapters.http import shared_session
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.adapters.qbo.oauth import IntuitOAuth
from qbo_sync.adapters.store.rate_limit import DynamoRequestBudget
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.domain.qbo import Customer
from qbo_sync.ports.qbo import QboAuthError, QboError
from qbo_sync.ports.tokens import NeedsReconnect, OAuthError
from qbo_sync.wiring import qbo_client_for

from .conftest import CA_REALM, CLIENT_SECRET, US_REALM, VERIFIER_TOKEN, LogCapture, Stack, build_stack
from .workers import call_qbo_at_once


def refresh_calls(stack: Stack) -> list[dict[str, object]]:
    return [e for e in stack.control.token_calls() if e["grant_type"] == "refresh_token"]


def assert_newest_refresh_token_is_stored(stack: Stack, tenant: str) -> None:
    """With refresh_grace_seconds 0 only the newest refresh token still refreshes."""
    stored = stack.store.get_tokens(tenant)
    assert stored is not None
    stack.oauth().refresh(stored[1].refresh_token)  # raises InvalidGrant for any superseded token


def test_twenty_threads_with_an_expired_token_cause_exactly_one_refresh(stack: Stack) -> None:
    tenant = stack.connect(US_REALM, access_expired=True)
    stack.control.expire_access_tokens(US_REALM)
    table = dynamodb_table(stack.settings.require("app_table_name"))
    barrier = threading.Barrier(20)

    def lambda_like_call() -> str:
        # Its own token source and client: no in-process sharing between the 20 callers.
        client = QboClient(
            US_REALM,
            stack.settings.qbo_api_base_url,
            stack.fresh_realm_tokens(tenant),
            DynamoRequestBudget(table, US_REALM),
            shared_session(),
        )
        barrier.wait(timeout=30)
        return client.company_info().entity.CompanyName

    with ThreadPoolExecutor(max_workers=20) as pool:
        names = list(pool.map(lambda _: lambda_like_call(), range(20)))

    assert names == ["Sandbox Company US"] * 20
    calls = refresh_calls(stack)
    assert [c["outcome"] for c in calls] == ["rotated"]
    assert all(e["status"] == 200 for e in stack.control.requests_log(US_REALM) if "companyinfo" in e["path"])
    assert not [e for e in stack.control.token_calls() if e["outcome"] == "invalid_grant"]
    assert_newest_refresh_token_is_stored(stack, tenant)


def test_four_processes_with_an_expired_token_cause_exactly_one_refresh(
    monkeypatch: pytest.MonkeyPatch, moto_process: str, qbo_url: str
) -> None:
    stack = build_stack(monkeypatch, moto_process, qbo_url)  # the workers inherit this environment
    tenant = stack.connect(US_REALM, access_expired=True)
    stack.control.expire_access_tokens(US_REALM)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    workers = [
        context.Process(target=call_qbo_at_once, args=(tenant, US_REALM, barrier, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    assert outcomes == [("ok", "Sandbox Company US")] * 4
    assert [c["outcome"] for c in refresh_calls(stack)] == ["rotated"]
    assert not [e for e in stack.control.token_calls() if e["outcome"] == "invalid_grant"]
    assert_newest_refresh_token_is_stored(stack, tenant)


def test_invalid_grant_marks_the_connection_and_parks(stack: Stack) -> None:
    tenant = stack.connect(US_REALM)
    stored = stack.store.get_tokens(tenant)
    assert stored is not None
    stack.oauth().revoke(stored[1].refresh_token)  # the user disconnected the app in QBO
    client = qbo_client_for(tenant, US_REALM, stack.settings)

    with pytest.raises(NeedsReconnect) as parked:
        client.company_info()
    assert parked.value.tenant_id == tenant and parked.value.realm_id == US_REALM
    assert "invalid_grant" in parked.value.reason
    connection = stack.store.get(tenant)
    assert connection is not None
    assert connection.status == ConnectionStatus.NEEDS_RECONNECT
    assert connection.status_reason == parked.value.reason

    calls = len(stack.control.token_calls())
    with pytest.raises(NeedsReconnect):
        qbo_client_for(tenant, US_REALM, stack.settings).company_info()
    assert len(stack.control.token_calls()) == calls  # parked without asking Intuit again


def test_no_token_or_secret_in_logs_exceptions_or_the_table(stack: Stack, captured_logs: LogCapture) -> None:
    def remember_stored_tokens() -> tuple[Connection, TokenSet]:
        stored = stack.store.get_tokens(tenant)
        assert stored is not None
        stack.issued.extend(t.get_secret_value() for t in (stored[1].access_token, stored[1].refresh_token))
        return stored

    tenant = stack.connect(US_REALM, access_expired=True)
    client = qbo_client_for(tenant, US_REALM, stack.settings)
    client.company_info()  # refresh on expiry
    remember_stored_tokens()
    stack.control.expire_access_tokens(US_REALM)
    client.query(Customer)  # 401, forced refresh
    stored = remember_stored_tokens()
    errors: list[Exception] = []
    try:
        client.create(Customer(DisplayName="Colon: Co"), request_id="r-1")
    except QboError as exc:
        errors.append(exc)
    try:
        qbo_client_for(tenant, CA_REALM, stack.settings).company_info()  # US token against CA: 403
    except QboAuthError as exc:
        errors.append(exc)
    stack.control.expire_access_tokens(US_REALM)
    stack.oauth().revoke(stored[1].refresh_token)
    try:
        qbo_client_for(tenant, US_REALM, stack.settings).company_info()  # 401, refresh: invalid_grant
    except NeedsReconnect as exc:
        errors.append(exc)
    bad_client = IntuitOAuth(
        "local-client-id",
        SecretStr("wrong-secret-value"),
        stack.settings.intuit_authorize_url,
        stack.settings.intuit_token_url,
        stack.settings.intuit_revoke_url,
        shared_session(),
        5,
    )
    try:
        bad_client.refresh(stored[1].refresh_token)
    except OAuthError as exc:
        errors.append(exc)
    assert [type(e).__name__ for e in errors] == [
        "QboValidationError",
        "QboAuthError",
        "NeedsReconnect",
        "OAuthError",
    ]

    secrets = [*stack.issued, CLIENT_SECRET, VERIFIER_TOKEN, "wrong-secret-value"]
    assert len(set(stack.issued)) == 6  # the minted pair and two refreshed pairs
    texts = captured_logs.lines() + [str(e) for e in errors] + [repr(e) for e in errors] + [repr(stored)]
    assert any("qbo request" in line for line in captured_logs.lines())
    for text in texts:
        for secret in secrets:
            assert secret not in text

    items = dynamodb_table(stack.settings.require("app_table_name")).scan()["Items"]
    dumped = repr(items) + "".join(
        bytes(value).decode("latin-1") for item in items for value in item.values() if hasattr(value, "value")
    )
    assert any("tokens" in item for item in items)
    for secret in secrets:
        assert secret not in dumped
