"""Backlog: 1,000 Open invoices of one realm, copied through the whole local stack while the QBO emulator
enforces QBO's limits (10 in flight, 500 per minute) on a compressed clock.

The backlog is enqueued as an operator's `onedesk-qbo backfill` enqueues it (its plan and its pacer, here
at the realm's whole budget and one request per invoice), not by one poller run: the poller's minute is
no bound on a backlog. Prints invoices a minute against what QBO's budget allows for this realm, the
fraction of the allowed request rate used (target >= 0.9), 429s surfaced to the pipeline (target 0),
DLQ messages (target 0) and QBO requests per invoice.
"""

from __future__ import annotations

import time
from pathlib import Path

from local.controls import wait_for
from local.operator import connect_new_tenant, use_product_environment
from local.stack import product_stack
from onedesk_qbo.backfill import DEFAULT_SINCE, Pacer, plan_backfill, requests_per_second, run_backfill
from qbo_sync import wiring
from qbo_sync.config import Settings

INVOICES = 1000
ORGANIZATIONS = 10
SPEED = 4.0  # the emulator's minute lasts 15 s: 500 requests per 15 s is the budget
BUDGET_PER_MINUTE = 500
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-backlog"
LINE = {"kind": "time", "description": "Support ticket", "serviceType": "Support", "hours": 1.25, "rate": 80}


def _enqueue_backlog(tenant_id: str, window_seconds: float) -> int:
    """What `onedesk-qbo backfill --budget-share 1 --requests-per-invoice 1` does, without its bar."""
    tenants = wiring.tenant_store()
    tenant = tenants.get_tenant(tenant_id)
    assert tenant is not None
    budget = Settings(qbo_max_per_minute=BUDGET_PER_MINUTE, qbo_rate_window_seconds=window_seconds)
    plan = plan_backfill(
        tenant_id, wiring.onedesk_for(tenant), tenants, DEFAULT_SINCE, wiring.utc_now(), restart=True
    )
    rate = requests_per_second(budget, 1.0)
    return run_backfill(
        plan,
        tenants,
        wiring.invoice_command_queue(),
        Pacer(rate, burst=rate),
        requests_per_invoice=1,
        on_batch=lambda _count: None,
    )


def main() -> None:
    window = 60 / SPEED
    print(
        f"\nBacklog: {INVOICES} Open invoices, one realm, QBO limits on a clock {SPEED:g}x faster "
        f"({BUDGET_PER_MINUTE} requests per {window:g} s real, 10 in flight)"
    )
    with product_stack(
        schedule_speed=None, log_dir=LOG_DIR, extra_env={"QBO_RATE_WINDOW_SECONDS": f"{window:g}"}
    ) as stack:
        use_product_environment(stack)
        world = connect_new_tenant(stack)
        organizations = [world.onedesk.organization(f"Backlog customer {i}") for i in range(ORGANIZATIONS)]
        for index in range(INVOICES):
            created = world.onedesk.invoice(organizations[index % ORGANIZATIONS], [LINE])
            world.onedesk.move(created["id"], "Open")
        world.qbo.control(
            "PUT", "/limits", {"max_in_flight": 10, "max_per_minute": BUDGET_PER_MINUTE, "window_seconds": 60}
        )
        world.qbo.control("PUT", "/clock", {"speed": SPEED})
        before = world.qbo.last_seq()

        started = time.monotonic()
        enqueued = _enqueue_backlog(world.tenant.tenant_id, window)
        enqueued_at = time.monotonic()
        wait_for(lambda: len(world.qbo.entities("Invoice")) >= INVOICES, timeout=900, what="backlog copied")
        finished = time.monotonic()

        requests_made = world.qbo.data_requests(before)
        stats = world.qbo.control("GET", "/stats").get(world.qbo.realm_id, {})
        sqs = stack.provisioned.client("sqs")
        dlq = int(
            sqs.get_queue_attributes(
                QueueUrl=stack.provisioned.ref("InvoiceCommandsDLQ"),
                AttributeNames=["ApproximateNumberOfMessages"],
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        surfaced = sum("QboThrottled" in line for line in stack.runner.logs("CopyInvoiceFunction"))
        # From the first command to the last invoice in QBO: copies start while the backfill enqueues.
        drain_seconds = finished - started
        allowed_per_second = BUDGET_PER_MINUTE / window
        achieved_per_second = len(requests_made) / drain_seconds
        print(
            f"  backfill enqueued {enqueued} commands in {enqueued_at - started:.1f} s (paced at the budget)"
        )
        per_minute = INVOICES / drain_seconds * 60
        allowed_invoices = BUDGET_PER_MINUTE / (len(requests_made) / INVOICES)  # per QBO minute
        print(
            f"  {INVOICES} invoices in QBO {drain_seconds:.1f} s after the first command: "
            f"{per_minute / SPEED:.0f} invoices per QBO minute for this realm, of the "
            f"{allowed_invoices:.0f} its budget allows at this request count ({per_minute:.0f}/min real)"
        )
        print(
            f"  QBO requests: {len(requests_made)} ({len(requests_made) / INVOICES:.3f} per invoice), "
            f"{achieved_per_second:.1f}/s of {allowed_per_second:.1f}/s allowed = "
            f"{achieved_per_second / allowed_per_second:.2f} of the allowed rate (target >= 0.9)"
        )
        print(
            f"  emulator: max in flight {stats.get('max_in_flight')}, max in a window "
            f"{stats.get('max_in_window')}, throttled {stats.get('throttled')}"
        )
        print(f"  429s surfaced to the pipeline: {surfaced} (target 0); DLQ messages: {dlq} (target 0)")


if __name__ == "__main__":
    main()
