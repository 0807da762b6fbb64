"""Real adapters against the QBO emulator (in-process) and moto (ThreadedMotoServer).

Every test gets a fresh AppTable created exactly as template.yaml declares it, a reset emulator with
default limits and a fresh throttle window, and Settings/boto3/Powertools caches cleared so the
product code reads the test's environment like a cold start would.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml
from aws_lambda_powertools.utilities import parameters
from pydantic import SecretStr

from local.qbo_sandbox import QboSandbox
from qbo_sync.adapters import aws
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.http import shared_session
from qbo_sync.adapters.qbo.oauth import IntuitOAuth, load_intuit_app
from qbo_sync.adapters.store.connections import DynamoConnectionStore
from qbo_sync.config import Settings, get_settings
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.observability import logger
from qbo_sync.usecases.tokens import RealmTokens
from qbo_sync.wiring import realm_tokens

US_REALM = "9130350000000001"
CA_REALM = "9130350000000002"
CLIENT_ID = "local-client-id"
CLIENT_SECRET = "local-client-secret"
VERIFIER_TOKEN = "local-verifier-token"
DEFAULT_LIMITS = {"max_in_flight": 10, "max_per_minute": 500, "window_seconds": 60}
TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
TIMEOUT = 30


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def app_table_definition() -> dict[str, Any]:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    properties: dict[str, Any] = template["Resources"]["AppTable"]["Properties"]
    return properties


def create_app_table(endpoint: str, name: str) -> None:
    props = app_table_definition()
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    client.create_table(
        TableName=name,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])


def provision_aws(endpoint: str, secret_name: str) -> str:
    """A KMS key and the Intuit app secret; returns the key id."""
    key_id: str = boto3.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["KeyId"]
    boto3.client("secretsmanager", endpoint_url=endpoint).create_secret(
        Name=secret_name, SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    )
    return key_id


def clear_process_caches() -> None:
    """What a cold start would not have: cached Settings, boto3 clients, secrets and token sources."""
    get_settings.cache_clear()
    aws._session.cache_clear()
    aws.dynamodb_table.cache_clear()
    aws.kms_client.cache_clear()
    parameters.clear_caches()
    realm_tokens.cache_clear()


AWS_TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def product_env(aws_endpoint: str, qbo_url: str, table: str, key_id: str, secret_name: str) -> dict[str, str]:
    return {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "APP_TABLE_NAME": table,
        "KMS_KEY_ID": key_id,
        "QBO_APP_SECRET_NAME": secret_name,
        "QBO_API_BASE_URL": qbo_url,
        "INTUIT_AUTHORIZE_URL": f"{qbo_url}/connect/oauth2",
        "INTUIT_TOKEN_URL": f"{qbo_url}/oauth2/v1/tokens/bearer",
        "INTUIT_REVOKE_URL": f"{qbo_url}/v2/oauth2/tokens/revoke",
    }


class Control:
    """The emulator's `/_sandbox/...` control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def ok(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        resp = self.http.request(
            method, self.base_url + path, json=body, params=params or None, timeout=TIMEOUT
        )
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def reset(self) -> None:
        self.ok("POST", "/_sandbox/reset")
        self.limits(**DEFAULT_LIMITS)
        # Past the window, so earlier tests' traffic does not count against this one's limits.
        self.ok("PUT", "/_sandbox/clock", {"speed": 1.0, "advance_seconds": 61})

    def limits(self, **limits: float) -> None:
        self.ok("PUT", "/_sandbox/limits", limits)

    def fault(self, **rule: Any) -> None:
        self.ok("POST", "/_sandbox/faults", rule)

    def mint_tokens(self, realm: str) -> dict[str, Any]:
        minted: dict[str, Any] = self.ok("POST", "/_sandbox/tokens", {"realmId": realm})
        return minted

    def expire_access_tokens(self, realm: str) -> None:
        self.ok("POST", "/_sandbox/tokens/expire", {"realmId": realm})

    def requests_log(self, realm: str | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.ok(
            "GET", "/_sandbox/requests", **({"realmId": realm} if realm else {})
        )
        return entries

    def token_calls(self) -> list[dict[str, Any]]:
        return [e for e in self.requests_log() if e["path"].endswith("/tokens/bearer")]

    def stats(self, realm: str) -> dict[str, Any]:
        stats: dict[str, Any] = self.ok("GET", "/_sandbox/stats")[realm]
        return stats

    def entities(self, realm: str, entity: str) -> list[dict[str, Any]]:
        body = self.ok("GET", f"/_sandbox/entities/{realm}/{entity}")
        found: list[dict[str, Any]] = body[entity] if isinstance(body, dict) else body
        return found


@dataclass
class Stack:
    """One test's world: product Settings, the table, the store, the emulator's control API."""

    settings: Settings
    store: DynamoConnectionStore
    control: Control
    env: dict[str, str]
    issued: list[str] = field(default_factory=list)  # every token value this test saw (for leak checks)

    def connect(self, realm: str, *, tenant_id: str | None = None, access_expired: bool = False) -> str:
        """A connected tenant for ``realm`` with a freshly minted token pair; returns the tenant id."""
        tenant_id = tenant_id or f"tenant-{uuid.uuid4().hex[:8]}"
        minted = self.control.mint_tokens(realm)
        self.issued += [minted["access_token"], minted["refresh_token"]]
        now = datetime.now(UTC)
        tokens = TokenSet(
            access_token=SecretStr(minted["access_token"]),
            refresh_token=SecretStr(minted["refresh_token"]),
            access_expires_at=now + (timedelta(seconds=-1) if access_expired else timedelta(hours=1)),
            refresh_expires_at=now + timedelta(days=100),
        )
        connection = Connection(
            tenant_id=tenant_id,
            realm_id=realm,
            status=ConnectionStatus.CONNECTED,
            connected_at=now,
            company_name=f"Company {realm}",
            country="US",
            home_currency="USD",
            custom_txn_numbers=True,
        )
        self.store.save_connection(connection, tokens)
        return tenant_id

    def fresh_realm_tokens(self, tenant_id: str) -> RealmTokens:
        """A token source of its own, as a separate Lambda would have (no in-process sharing)."""
        table = aws.dynamodb_table(self.settings.require("app_table_name"))
        store = DynamoConnectionStore(table, KmsSealer(self.settings.require("kms_key_id"), aws.kms_client()))
        return RealmTokens(tenant_id, store, self.oauth)

    def oauth(self) -> IntuitOAuth:
        app = load_intuit_app(self.settings)
        return IntuitOAuth(
            app.client_id,
            app.client_secret,
            self.settings.intuit_authorize_url,
            self.settings.intuit_token_url,
            self.settings.intuit_revoke_url,
            shared_session(),
            self.settings.intuit_oauth_timeout_seconds,
        )


@pytest.fixture(scope="session")
def qbo_url(qbo_sandbox: QboSandbox) -> str:
    url: str = qbo_sandbox.base_url
    return url.rstrip("/")


def build_stack(monkeypatch: pytest.MonkeyPatch, aws_endpoint: str, qbo_url: str) -> Stack:
    """Fresh table, key and app secret on ``aws_endpoint``; the product's environment points at them."""
    unique = uuid.uuid4().hex[:12]
    for name, value in {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": aws_endpoint}.items():
        monkeypatch.setenv(name, value)
    secret_name = f"onedesk-qbo/intuit-app-{unique}"
    key_id = provision_aws(aws_endpoint, secret_name)
    table = f"app-{unique}"
    create_app_table(aws_endpoint, table)
    env = product_env(aws_endpoint, qbo_url, table, key_id, secret_name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_process_caches()
    control = Control(qbo_url)
    control.reset()
    store = DynamoConnectionStore(aws.dynamodb_table(table), KmsSealer(key_id, aws.kms_client()))
    return Stack(get_settings(), store, control, env)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, aws_endpoint: str, qbo_url: str) -> Iterator[Stack]:
    yield build_stack(monkeypatch, aws_endpoint, qbo_url)
    clear_process_caches()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def moto_process() -> Iterator[str]:
    """moto in its own process, so four worker processes and this one share its state over HTTP."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


class _Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class LogCapture:
    """Formatted lines of the product logger (with its extras) and of every library logger."""

    product: _Collect
    libraries: _Collect

    def lines(self) -> list[str]:
        return self.product.lines + self.libraries.lines


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture(
        _Collect(logger.registered_formatter), _Collect(logging.Formatter("%(name)s %(message)s"))
    )
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.INFO)  # what a deployed function logs; botocore DEBUG would print secrets
    logger.addHandler(capture.product)
    root.addHandler(capture.libraries)
    try:
        yield capture
    finally:
        logger.removeHandler(capture.product)
        root.removeHandler(capture.libraries)
        root.setLevel(previous_level)
