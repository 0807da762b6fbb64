"""QBO client overhead per call, the request budget's DynamoDB calls, and the emulator's throughput.

Against the local QBO emulator and moto (a separate process, as in the local stack): the median and
p99 of 300 reads of one customer, done with a raw ``requests.get`` of the same URL and through
``QboClient`` with no budget and with the DynamoDB budget, and the difference (our overhead:
token cache, budget, JSON with Decimal, model validation, the log line), with the budget's
DynamoDB calls per request as botocore sent them. Then the budgeted client under contention
(8 threads on one realm item) and how many requests a second the emulator serves with 8 threads.
Plain figures; nothing passes or fails.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from pydantic import SecretStr

import bench.layer_path  # noqa: F401 - puts qbo_sync on sys.path
from local.aws import LocalAws
from local.budget_calls import counting_budget_calls
from local.qbo_sandbox import QboSandbox
from qbo_sync.adapters import aws
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.http import shared_session
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.adapters.store.connections import DynamoConnectionStore
from qbo_sync.adapters.store.rate_limit import DynamoRequestBudget
from qbo_sync.config import get_settings
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.domain.qbo import Customer
from qbo_sync.observability import logger
from qbo_sync.ports.tokens import RequestBudget
from qbo_sync.wiring import realm_tokens

READS = 300
THREADS = 8
CONTENDED_READS = 800
THROUGHPUT_REQUESTS = 2000
REALM = "9130350000000001"
TENANT = "bench-tenant"
TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
APP_SECRET = {"client_id": "local-client-id", "client_secret": "local-client-secret"}


class _Unlimited:
    """A budget that never waits: isolates the client's own overhead."""

    @contextmanager
    def acquire(self) -> Iterator[None]:
        yield


def _timings_ms(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm connections and caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def _connect(qbo_url: str) -> str:
    """Mint a token pair in the emulator and store the connection; returns the access token."""
    minted = requests.post(f"{qbo_url}/_sandbox/tokens", json={"realmId": REALM}, timeout=10).json()
    now = datetime.now(UTC)
    settings = get_settings()
    store = DynamoConnectionStore(
        aws.dynamodb_table(settings.require("app_table_name")),
        KmsSealer(settings.require("kms_key_id"), aws.kms_client()),
    )
    store.save_connection(
        Connection(
            tenant_id=TENANT,
            realm_id=REALM,
            status=ConnectionStatus.CONNECTED,
            connected_at=now,
            company_name="Bench",
        ),
        TokenSet(
            access_token=SecretStr(minted["access_token"]),
            refresh_token=SecretStr(minted["refresh_token"]),
            access_expires_at=now + timedelta(hours=1),
        ),
    )
    return str(minted["access_token"])


def main() -> None:
    logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - formatted, not shown
    with LocalAws() as local_aws, QboSandbox(port=0) as sandbox:
        qbo_url = sandbox.base_url.rstrip("/")
        provisioned = local_aws.provision(TEMPLATE, secrets={"QboAppSecretName": json.dumps(APP_SECRET)})
        os.environ.update(
            {
                **provisioned.environment(),
                "APP_TABLE_NAME": provisioned.ref("AppTable"),
                "KMS_KEY_ID": provisioned.ref("DataKey"),
                "QBO_APP_SECRET_NAME": str(provisioned.parameters["QboAppSecretName"]),
                "QBO_API_BASE_URL": qbo_url,
                "INTUIT_TOKEN_URL": f"{qbo_url}/oauth2/v1/tokens/bearer",
            }
        )
        get_settings.cache_clear()
        settings = get_settings()
        requests.put(f"{qbo_url}/_sandbox/limits", json={"max_per_minute": 10**6}, timeout=10)
        access_token = _connect(qbo_url)
        customers = requests.get(f"{qbo_url}/_sandbox/entities/{REALM}/Customer", timeout=10).json()
        customer_id = next(c["Id"] for c in customers if c["DisplayName"] == "Amy's Bird Sanctuary")
        url = f"{qbo_url}/v3/company/{REALM}/customer/{customer_id}"
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        session = shared_session()
        table = aws.dynamodb_table(settings.require("app_table_name"))
        tokens = realm_tokens(TENANT, settings)

        def client(budget: RequestBudget) -> QboClient:
            return QboClient(REALM, qbo_url, tokens, budget, session)

        unlimited = client(_Unlimited())
        budgeted = client(DynamoRequestBudget(table, REALM, per_minute=10**6))
        variants = {
            "raw requests.get": lambda: session.get(
                url, params={"minorversion": "75"}, headers=headers, timeout=30
            ),
            "QboClient, no budget": lambda: unlimited.read(Customer, customer_id),
            "QboClient, DynamoDB budget": lambda: budgeted.read(Customer, customer_id),
        }
        with counting_budget_calls(table) as sequential:  # only the budgeted variant touches it
            results = {name: _timings_ms(call, READS) for name, call in variants.items()}
        raw = results["raw requests.get"]

        print(
            f"\nQBO client overhead per call ({READS} reads of one customer, emulator + moto on this machine)"
        )
        print(f"{'variant':<28} {'median ms':>10} {'p99 ms':>8} {'overhead median ms':>19} {'p99':>7}")
        for name, samples in results.items():
            median, p99 = statistics.median(samples), _p99(samples)
            overhead = f"{median - statistics.median(raw):>19.2f} {p99 - _p99(raw):>7.2f}"
            print(f"{name:<28} {median:>10.2f} {p99:>8.2f} {overhead}")
        print(f"budget DynamoDB calls per request, one caller: {sequential.per_request(READS + 1)}")

        def budgeted_read(_: int) -> None:
            client(DynamoRequestBudget(table, REALM, per_minute=10**6)).read(Customer, customer_id)

        started = time.perf_counter()
        with counting_budget_calls(table) as contended, ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(budgeted_read, range(CONTENDED_READS)))
        elapsed = time.perf_counter() - started
        print(
            f"budgeted client, {THREADS} threads on one realm: {CONTENDED_READS / elapsed:.0f} requests/s; "
            f"DynamoDB calls per request: {contended.per_request(CONTENDED_READS)}"
        )

        def raw_get(_: int) -> int:
            return session.get(url, params={"minorversion": "75"}, headers=headers, timeout=30).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            statuses = list(pool.map(raw_get, range(THROUGHPUT_REQUESTS)))
        elapsed = time.perf_counter() - started
        ok = statuses.count(200)
        print(
            f"emulator throughput: {ok / elapsed:.0f} requests/s with {THREADS} threads "
            f"({ok}/{THROUGHPUT_REQUESTS} answered 200 in {elapsed:.1f} s)"
        )


if __name__ == "__main__":
    main()
