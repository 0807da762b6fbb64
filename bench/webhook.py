"""Webhook acknowledgement latency: signed Intuit notifications POSTed to the product's /qbo/webhooks
through the local runner (warm, sequential), p50 and p99; plus the receiver's cold-start import time."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path

import requests

from bench.artifact import BUILD, import_in_fresh_interpreter
from local.operator import connect_new_tenant, use_product_environment
from local.stack import product_stack

REQUESTS = 300
WARMUP = 20
TARGET_P99_MS = 50.0
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-webhook"


def main() -> None:
    print(f"\nWebhook acknowledgement latency ({REQUESTS} signed CloudEvents POSTs, warm, sequential)")
    with product_stack(schedule_speed=None, log_dir=LOG_DIR) as stack:
        use_product_environment(stack)
        world = connect_new_tenant(stack)
        from qbo_sync.domain.signing import intuit_signature  # noqa: PLC0415 - after the stack's environment

        verifier = world.qbo.control("GET", "/app")["verifier_token"]
        session = requests.Session()
        latencies = []
        for index in range(WARMUP + REQUESTS):
            body = json.dumps(
                [
                    {
                        "specversion": "1.0",
                        "id": str(uuid.uuid4()),
                        "source": "bench",
                        "type": "qbo.payment.created.v1",
                        "datacontenttype": "application/json",
                        "time": "2026-11-26T12:00:00Z",
                        "intuitentityid": str(index),
                        "intuitaccountid": world.qbo.realm_id,
                        "data": {},
                    }
                ]
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "intuit-signature": intuit_signature(verifier, body),
            }
            started = time.perf_counter()
            response = session.post(f"{stack.http_url}/qbo/webhooks", data=body, headers=headers, timeout=10)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"webhook answered {response.status_code}: {response.text}")
            if index >= WARMUP:
                latencies.append(elapsed)
        # The function's own time, as Lambda reports it (what AWS would bill), without the runner's hop.
        reports = [line for line in stack.runner.logs("QboWebhookFunction") if line.startswith("REPORT")]
        durations = sorted(float(line.split("Duration: ")[1].split(" ms")[0]) for line in reports[-REQUESTS:])
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"  end to end through the local runner: p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms,"
        " "
        f"max {latencies[-1]:.1f} ms (target p99 <= {TARGET_P99_MS:.0f} ms)"
    )
    function_p99 = durations[int(len(durations) * 0.99) - 1]
    print(
        "  the function alone (REPORT Duration, moto's DynamoDB and SQS included): "
        f"p50 {statistics.median(durations):.1f} ms, p99 {function_p99:.1f} ms"
    )
    cold = [
        float(import_in_fresh_interpreter(BUILD / "QboWebhookFunction").stdout.split()[-1]) for _ in range(5)
    ]
    print(f"  receiver cold-start import (built artifact, median of 5): {statistics.median(cold):.1f} ms")


if __name__ == "__main__":
    main()
