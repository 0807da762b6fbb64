"""Storm: 50 invoices of one realm copied through the whole local stack while QBO answers 40 429s,
15 500s, 10 503s and 6 lost-after-write creates (local/storm.py).

Prints how long after the storm's last fault the last invoice was copied (the failed records come back
after their own short retry delay, not the queue's 12-minute visibility timeout), how often a record
was retried, and the duplicates and dead letters left (target 0 and 0).
"""

from __future__ import annotations

import collections
import json
import time
import uuid
from pathlib import Path

from local.controls import wait_for
from local.operator import connect_new_tenant, send_command, use_product_environment
from local.stack import product_stack
from local.storm import STORM_RULES, faults_left, start_storm

INVOICES = 50
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-storm"
LINE = {"kind": "time", "description": "Support ticket", "serviceType": "Support", "hours": 1.25, "rate": 80}
RETRY_LOG = "record failed; it comes back after its retry delay"


def main() -> None:
    faults = ", ".join(
        f"{rule['count']}x{rule['status']}{' after the write' if rule.get('after_commit') else ''}"
        for rule in STORM_RULES
    )
    print(f"\nStorm: {INVOICES} invoices copied while QBO answers {faults}")
    with product_stack(schedule_speed=None, log_dir=LOG_DIR) as stack:
        use_product_environment(stack)
        world = connect_new_tenant(stack)
        organization = world.onedesk.organization("Storm customer")
        invoices = []
        for _ in range(INVOICES):
            created = world.onedesk.invoice(organization, [LINE])
            invoices.append(world.onedesk.move(created["id"], "Open")["id"])
        before = world.qbo.last_seq()
        start_storm(world.qbo)

        started = time.monotonic()
        for invoice_id in invoices:
            send_command(stack.http_url, world.tenant, invoice_id, "copy", uuid.uuid4().hex)
        wait_for(lambda: faults_left(world.qbo) == 0, timeout=600, what="the storm's faults consumed")
        storm_over = time.monotonic()
        pending = set(invoices)

        def all_copied() -> bool:
            pending.difference_update(
                [i for i in list(pending) if world.onedesk.record(i)["externalReferences"].get("qbo")]
            )
            return not pending

        wait_for(all_copied, timeout=600, what="every invoice copied")
        finished = time.monotonic()

        retries = collections.Counter(
            json.loads(line[line.index("{") :])["failure"]
            for line in stack.runner.logs("CopyInvoiceFunction")
            if RETRY_LOG in line
        )
        requests_made = world.qbo.data_requests(before)
        customer_id = world.qbo.named("Customer", "DisplayName", "Storm customer")[0]["Id"]
        qbo_invoices = [i for i in world.qbo.entities("Invoice") if i["CustomerRef"]["value"] == customer_id]
        sqs = stack.provisioned.client("sqs")
        dlq = int(
            sqs.get_queue_attributes(
                QueueUrl=stack.provisioned.ref("InvoiceCommandsDLQ"),
                AttributeNames=["ApproximateNumberOfMessages"],
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        print(f"  storm over {storm_over - started:.1f} s after the first command")
        print(
            f"  last invoice copied {finished - storm_over:.1f} s after the storm's last fault (bound: 120 s)"
        )
        kinds = ", ".join(f"{count} {kind}" for kind, count in retries.most_common()) or "none"
        print(
            f"  record retries: {sum(retries.values()) / INVOICES:.2f} per invoice ({kinds}); "
            f"QBO requests: {len(requests_made) / INVOICES:.2f} per invoice"
        )
        print(
            f"  QBO invoices: {len(qbo_invoices)} for {INVOICES} (duplicates: {len(qbo_invoices) - INVOICES})"
        )
        print(f"  DLQ messages: {dlq} (target 0)")


if __name__ == "__main__":
    main()
