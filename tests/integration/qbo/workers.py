"""Entry points for spawned worker processes (each one plays a separate Lambda)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from local.budget_calls import BudgetCalls, counting_budget_calls
from qbo_sync.adapters.aws import dynamodb_table
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.config import get_settings
from qbo_sync.domain.qbo import Customer
from qbo_sync.wiring import qbo_client_for


def call_qbo_at_once(
    tenant_id: str, realm_id: str, barrier: Barrier, results: Queue[tuple[str, str]]
) -> None:
    """Cold-start the wired client, wait for the others, then make one QBO call."""
    client = qbo_client_for(tenant_id, realm_id, get_settings())
    barrier.wait(timeout=60)
    try:
        results.put(("ok", client.company_info().entity.CompanyName))
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(("error", repr(exc)))


def read_concurrently(
    tenant_id: str,
    realm_id: str,
    customer_id: str,
    threads: int,
    barrier: Barrier,
    results: Queue[tuple[str, str]],
    costs: Queue[BudgetCalls],
) -> None:
    """``threads`` callers in this process read one customer at once; each reports its outcome, and
    the process reports the request budget's DynamoDB calls."""
    settings = get_settings()
    clients = [qbo_client_for(tenant_id, realm_id, settings) for _ in range(threads)]
    clients[0].company_info()  # warm the token before the measured burst
    barrier.wait(timeout=120)

    def read(client: QboClient) -> None:
        try:
            results.put(("ok", str(client.read(Customer, customer_id).entity.DisplayName)))
        except Exception as exc:  # reported to the parent, which asserts on it
            results.put(("error", repr(exc)))

    table = dynamodb_table(settings.require("app_table_name"))
    with counting_budget_calls(table) as calls, ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(read, clients))
    costs.put(calls)
