"""Backlog: 1,000 Open invoices of one realm, copied through the whole local stack while the QBO emulator
enforces QBO's limits (10 in flight, 500 per minute) on a compressed clock.

Prints throughput as a fraction of the allowed request rate (target >= 0.9), 429s surfaced to the
pipeline (target 0), DLQ messages (target 0) and QBO requests per invoice.
"""

from __future__ import annotations

import time
from pathlib import Path

from local.controls import wait_for
from local.operator import connect_new_tenant, use_product_environment
from local.stack import product_stack

INVOICES = 1000
ORGANIZATIONS = 10
SPEED = 4.0  # the emulator's minute lasts 15 s: 500 requests per 15 s is the budget
BUDGET_PER_MINUTE = 500
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-backlog"
LINE = {"kind": "time", "description": "Support ticket", "serviceType": "Support", "hours": 1.25, "rate": 80}


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
        polled = stack.runner.fire_schedule("OneDeskPollerFunction")
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
        # From the poll to the last invoice in QBO: copies start while the poller is still enqueueing.
        drain_seconds = finished - started
        allowed_per_second = BUDGET_PER_MINUTE / window
        achieved_per_second = len(requests_made) / drain_seconds
        print(f"  the poller enqueued the backlog in {enqueued_at - started:.1f} s ({polled.payload})")
        per_minute = INVOICES / drain_seconds * 60
        print(
            f"  {INVOICES} invoices in QBO {drain_seconds:.1f} s after the poll: "
            f"{per_minute:.0f} invoices/min real ({per_minute / SPEED:.0f} per QBO minute)"
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
