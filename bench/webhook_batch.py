"""A large Intuit batch: the receiver's time for one signed POST of 2,900 CloudEvents (two realms of ours,
each event distinct and relevant, so every one is queued) through the local runner, cold and warm, end to
end and as the function's REPORT duration. sync_payments is paused meanwhile and the queue emptied after
each run, so every run starts from the same queue."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from local.operator import connect_new_tenant, use_product_environment
from local.qbo_sandbox.store import ChangeEvent
from local.qbo_sandbox.webhooks import cloudevents_body
from local.stack import LocalStack, product_stack

EVENTS = 2900
WARM_RUNS = 5
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-webhook-batch"


def _body(realms: list[str]) -> bytes:
    now = datetime.now(UTC)
    events = [
        ChangeEvent(realms[n % 2], "Payment", str(10_000 + n), "updated", now, event_id=str(uuid.uuid4()))
        for n in range(EVENTS)
    ]
    return json.dumps(cloudevents_body(events, "bench"), separators=(",", ":")).encode()


def _empty(stack: LocalStack) -> int:
    client, url = stack.provisioned.client("sqs"), stack.provisioned.ref("QboChangesQueue")
    removed = 0
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
        "Messages", []
    ):
        entries: list[dict[str, Any]] = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        client.delete_message_batch(QueueUrl=url, Entries=entries)
        removed += len(messages)
    return removed


def _report_ms(stack: LocalStack) -> float:
    report = [line for line in stack.runner.logs("QboWebhookFunction") if line.startswith("REPORT")][-1]
    return float(report.split("Duration: ")[1].split(" ms")[0])


def main() -> None:
    print(f"\nWebhook batch: one signed POST of {EVENTS} distinct CloudEvents through the local runner")
    with product_stack(schedule_speed=None, log_dir=LOG_DIR) as stack:
        use_product_environment(stack)
        realms = [connect_new_tenant(stack).qbo.realm_id, connect_new_tenant(stack, "CA", "GST").qbo.realm_id]
        from qbo_sync.domain.signing import intuit_signature  # noqa: PLC0415 - after the stack's environment

        app = requests.get(f"{stack.components['qbo'].base_url}/_sandbox/app", timeout=10).json()
        stack.runner.set_event_sources_enabled("SyncPaymentsFunction", False)
        runs: list[tuple[float, float, int]] = []
        for _ in range(1 + WARM_RUNS):
            body = _body(realms)
            headers = {
                "Content-Type": "application/json",
                "intuit-signature": intuit_signature(app["verifier_token"], body),
            }
            started = time.perf_counter()
            response = requests.post(f"{stack.http_url}/qbo/webhooks", data=body, headers=headers, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"webhook answered {response.status_code}: {response.text}")
            runs.append((elapsed, _report_ms(stack), _empty(stack)))
    (cold_total, cold_function, _), warm = runs[0], runs[1:]
    print(f"  body {len(body) // 1024} KB; the runs queued {sorted({r[2] for r in runs})} messages each")
    print(f"  cold: {cold_total:.0f} ms end to end, the function {cold_function:.0f} ms (REPORT, no init)")
    print(
        f"  warm (median of {WARM_RUNS}): {statistics.median(r[0] for r in warm):.0f} ms end to end, "
        f"the function {statistics.median(r[1] for r in warm):.0f} ms (Intuit waits 3,000 ms; moto inside)"
    )


if __name__ == "__main__":
    main()
